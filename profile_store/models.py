"""Citizens and their profile fields, with provenance and history. Values are ciphertext only.

Scale notes (10 million citizens on PostgreSQL): a profile read is one primary-key range scan of
`profile_fields` on (citizen_id, attribute), so a citizen's rows sit together in the index; history
and sync rows are keyed the same way. docs/scale.md has the partitioning plan.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.db import Base, UTCDateTime

GOVERNMENT_VERIFIED = "1"
CITIZEN_PROVIDED = "2"
NOT_APPLICABLE = "3"
# 64-bit ids on PostgreSQL; SQLite only autoincrements a column declared INTEGER.
BIGINT_PK = BigInteger().with_variant(Integer, "sqlite")


def new_citizen_id() -> str:
    return str(uuid.uuid4())


class Citizen(Base):
    """A person. `id` is the pseudonymous id used everywhere; the national id is only a digest
    (for lookup) and a ciphertext (for calling agencies)."""

    __tablename__ = "citizens"
    # Key rotation walks the citizens of an old master key in id order, in batches: this index
    # serves both the filter and the order, so a batch never sorts the whole table.
    __table_args__ = (Index("ix_citizens_dek_kid_id", "dek_kid", "id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_citizen_id)
    uinfin_digest: Mapped[str] = mapped_column(String(64), unique=True)
    uinfin_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    dek_kid: Mapped[str] = mapped_column(String(64))
    dek_wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    refreshed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ProfileField(Base):
    """The current agency-held value of one attribute for one citizen."""

    __tablename__ = "profile_fields"

    citizen_id: Mapped[str] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"), primary_key=True)
    attribute: Mapped[str] = mapped_column(String(64), primary_key=True)
    agency: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(1), default=GOVERNMENT_VERIFIED)
    classification: Mapped[str] = mapped_column(String(1), default="C")
    lastupdated: Mapped[dt.date | None] = mapped_column(Date)
    unavailable: Mapped[bool] = mapped_column(Boolean, default=False)
    ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    version: Mapped[int] = mapped_column(Integer, default=1)
    fetched_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Declaration(Base):
    """A fact the citizen states about themself (source "2"). Kept apart from agency values so a
    refresh never touches it and it can never pass for a government-verified value."""

    __tablename__ = "declarations"

    citizen_id: Mapped[str] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"), primary_key=True)
    attribute: Mapped[str] = mapped_column(String(64), primary_key=True)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    version: Mapped[int] = mapped_column(Integer, default=1)
    declared_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class FieldVersion(Base):
    """A superseded value: what it was, who provided it, and when it was replaced."""

    __tablename__ = "field_versions"
    __table_args__ = (Index("ix_field_versions_lookup", "citizen_id", "attribute", "origin", "version"),)

    id: Mapped[int] = mapped_column(BIGINT_PK, primary_key=True, autoincrement=True)
    citizen_id: Mapped[str] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"))
    attribute: Mapped[str] = mapped_column(String(64))
    origin: Mapped[str] = mapped_column(String(8))  # "agency" or "citizen"
    version: Mapped[int] = mapped_column(Integer)
    agency: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(1))
    lastupdated: Mapped[dt.date | None] = mapped_column(Date)
    unavailable: Mapped[bool] = mapped_column(Boolean, default=False)
    ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    superseded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class AgencySync(Base):
    """The last attempt and last success of fetching one citizen from one agency."""

    __tablename__ = "agency_syncs"

    citizen_id: Mapped[str] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"), primary_key=True)
    agency: Mapped[str] = mapped_column(String(32), primary_key=True)
    attempted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    succeeded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # A short reason code and message without personal data, e.g. "timeout", "http_500".
    last_error: Mapped[str | None] = mapped_column(String(200))
