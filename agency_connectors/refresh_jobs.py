"""Refreshes a citizen starts themself ("Refresh my record now"): one status row per refresh, so
that at most one runs per citizen across every worker process, and so the citizen's status page
can show each agency's outcome once the background refresh has finished.

At most one running: a unique partial index on `citizen_id` over rows in state `running`, and the
start is one INSERT ... ON CONFLICT DO NOTHING on it (PostgreSQL, SQLite 3.35+): of any number of
concurrent starts, one inserts and the others get nothing back. A running row older than
`stale_after` belongs to a process that died mid-refresh (a finished refresh always marks its row),
so a start first marks such a row `abandoned`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.db import Base, UTCDateTime
from profile_store.models import BIGINT_PK

from .refresh import AgencyOutcome, RefreshResult

RUNNING, DONE, ABANDONED = "running", "done", "abandoned"
UPDATED, UNCHANGED, UNAVAILABLE, FAILED = "updated", "unchanged", "unavailable", "failed"


class CitizenRefresh(Base):
    """One refresh a citizen asked for: when it started and finished, and per agency what came of
    it (`{"tax": {"outcome": "failed", "reason": "http_503"}, ...}`: reason codes, never values)."""

    __tablename__ = "citizen_refreshes"
    __table_args__ = (
        Index(
            "uq_citizen_refreshes_running",
            "citizen_id",
            unique=True,
            postgresql_where=text("state = 'running'"),
            sqlite_where=text("state = 'running'"),
        ),
        Index("ix_citizen_refreshes_citizen_started", "citizen_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(BIGINT_PK, primary_key=True, autoincrement=True)
    citizen_id: Mapped[str] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16))  # RUNNING | DONE | ABANDONED
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    outcomes: Mapped[dict[str, Any] | None] = mapped_column(JSON)


def start_refresh(
    session: Session, *, citizen_id: str, now: dt.datetime, stale_after: dt.timedelta
) -> int | None:
    """Claim the citizen's one running refresh: the new row's id, or None while another refresh of
    theirs is running (one started within `stale_after`). Runs in the caller's transaction
    (flushed, not committed); the claim holds for others once the caller commits."""
    session.execute(
        update(CitizenRefresh)
        .where(
            CitizenRefresh.citizen_id == citizen_id,
            CitizenRefresh.state == RUNNING,
            CitizenRefresh.started_at < now - stale_after,
        )
        .values(state=ABANDONED, finished_at=now)
    )
    dialect = session.get_bind().dialect.name
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}.get(dialect)
    if insert is None:
        raise NotImplementedError(f"citizen refreshes do not support {dialect}")
    statement = (
        insert(CitizenRefresh)
        .values(citizen_id=citizen_id, state=RUNNING, started_at=now)
        .on_conflict_do_nothing(index_elements=["citizen_id"], index_where=text("state = 'running'"))
        .returning(CitizenRefresh.id)
    )
    return session.execute(statement).scalar_one_or_none()


def finish_refresh(
    session: Session, *, refresh_id: int, result: RefreshResult | None, now: dt.datetime
) -> None:
    """Mark the refresh done with each agency's outcome (`result=None`: it could not finish, and
    nothing of it was kept). In the caller's transaction: commit it with the refresh's writes."""
    outcomes = None
    if result is not None:
        outcomes = {code: outcome_of(o) for code, o in sorted(result.outcomes.items())}
    session.execute(
        update(CitizenRefresh)
        .where(CitizenRefresh.id == refresh_id)
        .values(state=DONE, finished_at=now, outcomes=outcomes)
    )


def outcome_of(outcome: AgencyOutcome) -> dict[str, Any]:
    """updated (something changed), unchanged, unavailable (the agency holds no record of the
    citizen) or failed (not reached or a bad answer: the last good values stay), with the reason
    code of a failure."""
    if not outcome.ok:
        return {"outcome": FAILED, "reason": outcome.reason or "failed"}
    if not outcome.found:
        return {"outcome": UNAVAILABLE}
    return {"outcome": UPDATED if outcome.changed else UNCHANGED, "changed": outcome.changed}


def latest_refresh(session: Session, citizen_id: str) -> CitizenRefresh | None:
    """The citizen's most recent refresh, or None if they never started one."""
    query = (
        select(CitizenRefresh)
        .where(CitizenRefresh.citizen_id == citizen_id)
        .order_by(CitizenRefresh.started_at.desc(), CitizenRefresh.id.desc())
        .limit(1)
    )
    return session.scalar(query)


def is_running(refresh: CitizenRefresh | None, *, now: dt.datetime, stale_after: dt.timedelta) -> bool:
    return refresh is not None and refresh.state == RUNNING and refresh.started_at >= now - stale_after
