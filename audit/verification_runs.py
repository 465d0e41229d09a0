"""Whole-log verification runs (audit.auditor_models.AuditVerification): those `consentry audit
verify` records when it has finished (`record_verification`), and those started by an auditor in
the console, one row per run that says `running` with its progress until the run is `done` with
its result, so any process can show a run's progress and a reload loses nothing.

At most one run is running: a partial unique index on `state = 'running'` refuses a second, across
processes. A running row whose heartbeat (`updated_at`) is older than STALE (its process died) is
closed as abandoned when the next run starts.

Every function runs inside the caller's transaction: it flushes and never commits.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import Conflict, NotFound

from .auditor_models import AuditVerification
from .verify import LogReport

RUNNING, DONE = "running", "done"
STALE = dt.timedelta(minutes=5)
ABANDONED = "abandoned: no progress for 5 minutes (its process stopped)"
MAX_FINDING = 2000


def start_run(session: Session, *, started_by: str, total: int, now: dt.datetime) -> AuditVerification:
    """A new running run. Closes a stale running run first; raises Conflict while another run
    is running (here or in another process)."""
    session.execute(
        update(AuditVerification)
        .where(AuditVerification.state == RUNNING, AuditVerification.updated_at < now - STALE)
        .values(state=DONE, ok=False, finding=ABANDONED, finished_at=now)
    )
    run = AuditVerification(
        ran_at=now,
        updated_at=now,
        entries=0,
        checkpoints=0,
        ok=False,
        state=RUNNING,
        total=total,
        started_by=started_by[:64],
    )
    try:
        with session.begin_nested():
            session.add(run)
    except IntegrityError:
        raise Conflict("A verification is already running") from None
    return run


def record_progress(session: Session, *, run_id: int, entries: int, now: dt.datetime) -> None:
    """The run has checked `entries` entries so far (its heartbeat)."""
    session.execute(
        update(AuditVerification)
        .where(AuditVerification.id == run_id, AuditVerification.state == RUNNING)
        .values(entries=entries, updated_at=now)
    )


def finish_run(session: Session, *, run_id: int, report: LogReport, now: dt.datetime) -> AuditVerification:
    """Store the run's result: passed, or the first problem and where it is. Raises NotFound."""
    run = get_run(session, run_id)
    first = report.first
    run.state, run.ok, run.entries, run.checkpoints = DONE, report.ok, report.entries, report.checkpoints
    run.finding = str(first)[:MAX_FINDING] if first else None
    run.position = first.where[:64] if first else None
    run.finished_at = run.updated_at = now
    session.flush()
    return run


def fail_run(session: Session, *, run_id: int, reason: str, now: dt.datetime) -> None:
    """The run stopped without a result (an error while reading the log)."""
    session.execute(
        update(AuditVerification)
        .where(AuditVerification.id == run_id, AuditVerification.state == RUNNING)
        .values(state=DONE, ok=False, finding=reason[:MAX_FINDING], finished_at=now, updated_at=now)
    )


def get_run(session: Session, run_id: int) -> AuditVerification:
    run = session.get(AuditVerification, run_id, populate_existing=True)
    if run is None:
        raise NotFound("There is no verification run with that number")
    return run


def running_run(session: Session) -> AuditVerification | None:
    return session.scalar(select(AuditVerification).where(AuditVerification.state == RUNNING))


def recent_runs(session: Session, *, limit: int = 20) -> list[AuditVerification]:
    """The latest runs, newest first (console and command line alike)."""
    query = select(AuditVerification).order_by(AuditVerification.ran_at.desc(), AuditVerification.id.desc())
    return list(session.scalars(query.limit(limit)))


def record_verification(session: Session, *, report: LogReport, now: dt.datetime) -> AuditVerification:
    """Store the outcome of a finished whole-log verification (audit.verify.verify_log)."""
    first = report.first
    run = AuditVerification(
        ran_at=now,
        entries=report.entries,
        checkpoints=report.checkpoints,
        ok=report.ok,
        finding=str(first)[:MAX_FINDING] if first else None,
        position=first.where[:64] if first else None,
        finished_at=now,
    )
    session.add(run)
    session.flush()
    return run


def last_verification(session: Session) -> AuditVerification | None:
    """The most recent finished verification run, or None if the log was never verified."""
    return session.scalar(
        select(AuditVerification)
        .where(AuditVerification.state == DONE)
        .order_by(AuditVerification.ran_at.desc(), AuditVerification.id.desc())
        .limit(1)
    )
