"""'Verify now' in the auditor console: start the whole-log verification (audit.verify.verify_log)
in a background thread, follow its progress, read its result and the history of runs.

The run's row (audit.verification_runs) holds its state and progress, so a reload or another
process shows the same; the page refreshes itself every 2 seconds while the run is running
(a meta refresh: the console runs no script). At most one run at a time.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

import structlog
from flask import g, redirect, render_template, url_for

from audit.log import Event
from audit.tree import tree_size
from audit.verification_runs import (
    RUNNING,
    fail_run,
    finish_run,
    get_run,
    recent_runs,
    record_progress,
    running_run,
    start_run,
)
from audit.verify import verify_log
from audit.witness_check import verify_witnessing
from audit.witness_client import parse_witnesses
from core.clock import utcnow
from core.errors import Conflict

from ..auditing import record
from ..extensions import Runtime, db, runtime
from ..operator.schemas import ActionForm
from ..security import auditor_required
from .views import _audit, _load_form, bp

log = structlog.get_logger(__name__)
REFRESH_SECONDS = 2


@bp.get("/verify")
@auditor_required
def verify_page():
    store = db(write=True)
    _audit("auditor_search", page="verify")
    return render_template("auditor/verify.html", running=running_run(store), runs=recent_runs(store))


@bp.post("/verify")
@auditor_required
def verify_now():
    _load_form(ActionForm())
    store = db()
    try:
        run = start_run(store, started_by=g.auditor.username, total=tree_size(store), now=utcnow())
    except Conflict:  # the page shows the run that is running
        store.rollback()
        return redirect(url_for(".verify_page"), 303)
    record(store, Event(kind="admin_action", outcome="audit_verification_started", details=_by(run.id)))
    store.commit()  # the run's row and its audit entry together
    start_thread(_verify_in_background, runtime(), run.id)
    return redirect(url_for(".verification_run", run_id=run.id), 303)


@bp.get("/verify/runs/<int:run_id>")
@auditor_required
def verification_run(run_id: int):
    run = get_run(db(write=True), run_id)
    refresh = REFRESH_SECONDS if run.state == RUNNING else None
    return render_template("auditor/verify_run.html", run=run, refresh=refresh)


def _by(run_id: int) -> dict[str, Any]:
    return {"auditor": g.auditor.username, "actor": g.actor, "run": run_id}


def start_thread(target: Callable[..., Any], *args: Any) -> None:
    """Run `target(*args)` in a daemon thread (tests replace this to run it in line)."""
    threading.Thread(target=target, args=args, name="audit-verify", daemon=True).start()


def _verify_in_background(rt: Runtime, run_id: int) -> None:
    """The run itself: reads the log in one transaction, writes progress in short ones."""

    def progress(entries: int) -> None:
        with rt.writer_sessions() as session:
            record_progress(session, run_id=run_id, entries=entries, now=utcnow())
            session.commit()

    try:
        with rt.sessions() as reader:
            report = verify_log(
                reader,
                public_key=rt.audit_signer.public_key,
                on_progress=progress,
                max_merge_delay=dt.timedelta(seconds=rt.config.audit_max_merge_delay_s),
                now=utcnow(),
            )
            targets = parse_witnesses(rt.config.audit_witnesses)
            if report.ok and targets:  # as `consentry audit verify` does: the cosignatures too
                witnessing = verify_witnessing(
                    reader,
                    log_vkey=rt.audit_signer.note_verifier_key(),
                    targets=targets,
                    quorum=rt.config.audit_witness_quorum,
                )
                if witnessing.finding is not None:
                    report.findings.append(witnessing.finding)
        with rt.writer_sessions() as session:
            finish_run(session, run_id=run_id, report=report, now=utcnow())
            session.commit()
        log.info("audit_verification_done", run_id=run_id, ok=report.ok)
    except Exception:  # the run must not stay "running": say it stopped, keep the trace in the log
        log.exception("audit_verification_failed", run_id=run_id)
        with rt.writer_sessions() as session:
            fail_run(session, run_id=run_id, reason="stopped by an error (see the server log)", now=utcnow())
            session.commit()
