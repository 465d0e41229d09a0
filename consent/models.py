"""Agency apps, their registered purposes, and consents as records.

A consent names who (citizen), which app, which purpose, what was approved and what declined, when
it was granted, when it expires and whether it was revoked. Tokens are issued under a consent and
stop working the moment it is revoked or expires (the OAuth layer checks `consent.active_at`).
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import JSON, Boolean, ForeignKey, ForeignKeyConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.db import Base, UTCDateTime


class AgencyApp(Base):
    __tablename__ = "agency_apps"

    client_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    agency: Mapped[str] = mapped_column(String(200))
    redirect_uris: Mapped[list[str]] = mapped_column(JSON)
    allowed_attributes: Mapped[list[str]] = mapped_column(JSON)
    jwks: Mapped[dict | None] = mapped_column(JSON)
    jwks_uri: Mapped[str | None] = mapped_column(String(500))
    profiles: Mapped[list[str]] = mapped_column(JSON)  # wire profiles it may use: "myinfo-v4", "myinfo-v5"
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Where the app hears of its consents' changes (withdrawn, paused, expired...), if anywhere.
    webhook_url: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Purpose(Base):
    """Why an app asks: the text shown to the citizen and which attributes it needs; and, when the
    app states them, what it does with the data and how long it keeps it (shown in receipts)."""

    __tablename__ = "purposes"

    client_id: Mapped[str] = mapped_column(
        ForeignKey("agency_apps.client_id", ondelete="CASCADE"), primary_key=True
    )
    purpose_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    description: Mapped[str] = mapped_column(Text)
    required_attributes: Mapped[list[str]] = mapped_column(JSON)
    optional_attributes: Mapped[list[str]] = mapped_column(JSON)
    processing: Mapped[str | None] = mapped_column(Text)
    retention: Mapped[str | None] = mapped_column(String(300))


def new_consent_id() -> str:
    return str(uuid.uuid4())


class Consent(Base):
    __tablename__ = "consents"
    __table_args__ = (
        ForeignKeyConstraint(["client_id", "purpose_id"], ["purposes.client_id", "purposes.purpose_id"]),
        Index("ix_consents_citizen_app_purpose", "citizen_id", "client_id", "purpose_id", "granted_at"),
        Index("ix_consents_expires_at", "expires_at"),
        Index("ix_consents_citizen_granted", "citizen_id", "granted_at", "id"),
        Index("ix_consents_client_granted", "client_id", "granted_at", "id"),  # an app's status pages
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_consent_id)
    citizen_id: Mapped[str] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(String(100))
    purpose_id: Mapped[str] = mapped_column(String(100))
    approved: Mapped[list[str]] = mapped_column(JSON)
    # attribute -> the sub-attribute paths approved, for attributes approved only in part (a v5
    # scope such as `cpfbalances.oa`); None or absent: the whole attribute.
    approved_parts: Mapped[dict[str, list[str]] | None] = mapped_column(JSON)
    declined: Mapped[list[str]] = mapped_column(JSON)
    remembered: Mapped[bool] = mapped_column(Boolean, default=False)
    granted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # A standing (remembered) consent the citizen paused: its tokens are refused until resumed.
    paused_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # A "this request only" consent's first release: from then on the citizen reads it as used.
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The expiry sweep's marks: the reminder before a standing consent ends, and its end recorded.
    reminded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    expiry_recorded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    def active_at(self, now: dt.datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at

    def usable_at(self, now: dt.datetime) -> bool:
        """Whether tokens issued under it may be used: active and not paused."""
        return self.active_at(now) and self.paused_at is None
