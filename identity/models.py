"""The identity domain's tables: citizen sign-in credentials (`citizen_accounts`) and signed-in
browser sessions (`web_sessions`).

`citizen_accounts` has one row per citizen who can sign in. The TOTP secret is wrapped by the
master keyring (`core.crypto.keyring`) with the citizen's id as associated data, so a secret
copied to another citizen's row, or a row read without the master key, reveals nothing.
`last_totp_step` is the 30-second step of the last code accepted: no code works twice.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.db import Base, UTCDateTime

# 64-bit on PostgreSQL; SQLite's INTEGER is already 64-bit.
BIGINT = BigInteger().with_variant(Integer, "sqlite")


class CitizenAccount(Base):
    __tablename__ = "citizen_accounts"

    citizen_id: Mapped[str] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    # Which master key wrapped the TOTP secret, and the wrapped secret (nonce + AES-GCM ciphertext).
    totp_kid: Mapped[str] = mapped_column(String(64))
    totp_secret_wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    last_totp_step: Mapped[int | None] = mapped_column(BIGINT)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


ROLES = ("citizen", "staff", "auditor")


class WebSession(Base):
    """Signed-in browser sessions (table `web_sessions`), one row per signed-in principal.

    The browser's cookie carries only an opaque random token; the row's id is the token's SHA-256,
    so a database read does not yield a cookie that works. A row ends at the first of: `revoked_at`
    (sign-out, a newer sign-in in the same browser, a privilege change), `idle_expires_at` (pushed
    forward while the session is used) and `expires_at` (fixed at sign-in, however busy the session).

    `role` says what kind of principal signed in (citizen, staff, auditor) and `subject` which one
    (a citizen, staff account or legacy auditor id). A member of staff with several roles signs in
    as one row with role "staff"; their roles are read from the account on each request, so a
    change of permissions applies at once and `revoke_all_for` ends every session of the account.
    """

    __tablename__ = "web_sessions"
    __table_args__ = (
        Index("ix_web_sessions_role_subject", "role", "subject"),
        Index("ix_web_sessions_expires_at", "expires_at"),
    )

    # SHA-256 (hex) of the cookie's token; the token itself is never stored.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # Written at most every TOUCH_EVERY (identity.web_sessions), not on every request.
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    idle_timeout_s: Mapped[int] = mapped_column(Integer)
    idle_expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(String(40))
    # When the principal last proved who they are (sign-in, or a step-up code since): a citizen's
    # "Show" of their national id asks again once this is older than five minutes.
    authenticated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
