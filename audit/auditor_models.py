"""The results of `consentry audit verify` and of the console's verification runs, and the names of
the older auditor accounts.

Those accounts (table `auditors`) moved into staff accounts with the auditor role in migration
0025, each keeping its id. Audit entries they wrote name them `auditor:<id>`; `auditor_names`
keeps each one's username so those entries still read with a name, even if the staff account is
later renamed away or never moved (a username that staff already used). Nothing here is personal
data of citizens.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime

# 64-bit ids on PostgreSQL; SQLite only autoincrements a column declared INTEGER.
BIGINT = BigInteger().with_variant(Integer, "sqlite")


class AuditorName(Base):
    """The username of an auditor account from before migration 0025, by its id (read-only)."""

    __tablename__ = "auditor_names"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    username: Mapped[str] = mapped_column(String(64))


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
