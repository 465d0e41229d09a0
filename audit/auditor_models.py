"""Auditors (the people who read the log) and the results of `consentry audit verify`.

Unlike the log's own tables these rows are mutable: an auditor's last login and last used TOTP
step change, and an auditor can be disabled. Nothing here is personal data of citizens.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import BigInteger, Boolean, Index, Integer, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.db import Base, UTCDateTime

# 64-bit ids on PostgreSQL; SQLite only autoincrements a column declared INTEGER.
BIGINT = BigInteger().with_variant(Integer, "sqlite")


def new_auditor_id() -> str:
    return str(uuid.uuid4())


class Auditor(Base):
    """One person allowed into the auditor console. `totp_secret` is ciphertext (see
    audit.auditors.auditor_totp_key); `last_totp_step` is the 30-second step of the last code
    accepted, so no code works twice."""

    __tablename__ = "auditors"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_auditor_id)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    totp_secret: Mapped[bytes] = mapped_column(LargeBinary)
    last_totp_step: Mapped[int | None] = mapped_column(BIGINT)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


class AuditVerification(Base):
    """One run of the whole-log verification. `finding` names the first problem by position and
    hashes only (audit.verify.Finding), never an entry's content; `position` is where it is
    ("seq 12", "tree node level 0 index 5", "log"). A run started from the console is `running`
    (`entries` counts progress, `total` the log's size at the start, `updated_at` its heartbeat)
    until `done`; at most one row is running (a partial unique index)."""

    __tablename__ = "audit_verifications"
    __table_args__ = (
        Index(
            "uq_audit_verifications_running",
            "state",
            unique=True,
            sqlite_where=text("state = 'running'"),
            postgresql_where=text("state = 'running'"),
        ),
    )

    id: Mapped[int] = mapped_column(BIGINT, primary_key=True, autoincrement=True)
    ran_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    entries: Mapped[int] = mapped_column(BIGINT)
    checkpoints: Mapped[int] = mapped_column(Integer)
    ok: Mapped[bool] = mapped_column(Boolean)
    finding: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="done", server_default="done")
    position: Mapped[str | None] = mapped_column(String(64))
    total: Mapped[int | None] = mapped_column(BIGINT)
    started_by: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
