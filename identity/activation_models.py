"""Tables of citizen activation: activation letters, enrolments in progress and recovery codes.

- `activation_letters`: a one-time code an agency or operator sends a citizen (by post) so that
  they can open their account. Only an HMAC-SHA256 of the code is kept. At most one letter per
  citizen is live (not used, revoked, locked or expired): issuing a new one revokes the others.
- `enrolments_in_progress`: what a citizen has done so far between the activation pages (or the
  authenticator re-enrolment after a recovery sign-in). The browser holds only a random token; the
  row's id is its SHA-256, so nothing the browser sends says who the citizen is.
- `recovery_codes`: ten single-use codes per account, stored as HMAC-SHA256 digests.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime


class ActivationLetter(Base):
    __tablename__ = "activation_letters"
    __table_args__ = (Index("ix_activation_letters_citizen_id", "citizen_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    citizen_id: Mapped[str] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64))  # HMAC-SHA256 (hex) of the code
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    def live_at(self, now: dt.datetime) -> bool:
        ended = self.used_at or self.revoked_at or self.locked_at
        return ended is None and now < self.expires_at


PURPOSES = ("activate", "recover")


class EnrolmentInProgress(Base):
    __tablename__ = "enrolments_in_progress"

    # SHA-256 (hex) of the browser's token; the token itself is never stored.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))
    citizen_id: Mapped[str] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"))
    letter_id: Mapped[str | None] = mapped_column(ForeignKey("activation_letters.id", ondelete="CASCADE"))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    # The authenticator secret being enrolled, wrapped as citizen_accounts wraps it.
    totp_kid: Mapped[str | None] = mapped_column(String(64))
    totp_secret_wrapped: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # Set when the authenticator was confirmed and the account made: only "I have saved my
    # recovery codes" is left.
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class RecoveryCode(Base):
    __tablename__ = "recovery_codes"
    __table_args__ = (Index("ix_recovery_codes_citizen_id", "citizen_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    citizen_id: Mapped[str] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
