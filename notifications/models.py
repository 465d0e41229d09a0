"""The notification tables: the outbox, each citizen's preferences, and used one-tap links.

An outbox row holds no personal value: the recipient is the citizen's pseudonymous id, and the
params are attribute names, the app's name, ids and times. The address is looked up when the
notice is sent, so a changed address is used, and a withdrawn one is never kept here.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.db import Base, UTCDateTime

BIGINT_PK = BigInteger().with_variant(Integer, "sqlite")

EMAIL, WEBHOOK = "email", "webhook"  # kind: a mail to the citizen, or a security event to the app
PENDING, SENDING, SENT, FAILED, SKIPPED = "pending", "sending", "sent", "failed", "skipped"
IMMEDIATE, DIGEST, OFF = "immediate", "digest", "off"
# The languages a notice can be written in (Babel locale ids; the app's catalogues hold them).
LANGUAGES = ("en", "zh_Hans_SG")
DEFAULT_LANGUAGE = "en"


class Outbox(Base):
    """One notice to deliver. `state` moves pending -> sending (claimed under a lease by one
    worker) -> sent | pending again (a retry, `due_at` pushed back) | failed (attempts used up)
    | skipped (the citizen turned notices off, or has no address)."""

    __tablename__ = "outbox"
    # The worker's claim: due rows in due order; and the operator's list of failures.
    __table_args__ = (Index("ix_outbox_state_due_at", "state", "due_at"),)

    id: Mapped[int] = mapped_column(BIGINT_PK, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16), default=EMAIL)
    citizen_id: Mapped[str] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"))
    template: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(200))  # a reason code, no personal data
    state: Mapped[str] = mapped_column(String(16), default=PENDING)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class NotificationPreference(Base):
    """How a citizen wants notices; no row means at once, own recent releases included, in the
    platform's default language. `language` is a Babel locale id ("en", "zh_Hans_SG"), set when
    the citizen chooses one (the page's language picker, or these settings); None: never chosen."""

    __tablename__ = "notification_preferences"

    citizen_id: Mapped[str] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"), primary_key=True)
    mode: Mapped[str] = mapped_column(String(16), default=IMMEDIATE)
    skip_own_recent: Mapped[bool] = mapped_column(Boolean, default=False)
    language: Mapped[str | None] = mapped_column(String(16))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class UsedLink(Base):
    """A one-tap withdraw link that has been used: its nonce, so it never works twice."""

    __tablename__ = "notification_used_links"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    consent_id: Mapped[str] = mapped_column(String(36))
    used_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
