"""'Refresh my record now': the citizen asks every agency again, in the background, and sees each
agency's outcome on a status page (docs/portal.md).

    POST /citizen/refresh   (CSRF) start one, unless one is running; at most REFRESH_LIMIT
    GET  /citizen/refresh   the latest refresh: running (with a "Check again" link), or each
                            agency's outcome (updated, unchanged, unavailable, failed)

The refresh is agency_connectors.refresh.refresh_citizen on the app's background pool
(Runtime.background), in a session and transaction of its own: the agencies' answers, the
`profile_refreshed` audit entry (actor "citizen") and the status row commit together. At most one
runs per citizen, across processes: agency_connectors.refresh_jobs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import structlog
from flask import Flask, current_app, flash, g, redirect, render_template, url_for

from agency_connectors.refresh import refresh_citizen
from agency_connectors.refresh_jobs import finish_refresh, is_running, latest_refresh, start_refresh
from core.clock import utcnow
from core.rate_limit import RateLimited
from profile_store.models import Citizen

from ..auditing import record, refresh_event
from ..extensions import db as request_db
from ..extensions import runtime
from ..identity import citizen_required
from ..rate_limit import Limit, _wait_words, check
from .views import _action_form, bp

log = structlog.get_logger(__name__)

REFRESH_LIMIT = Limit("citizen_refresh", 3, 600)  # refreshes per citizen per 10 minutes
STALE_AFTER = dt.timedelta(minutes=2)  # a running refresh this old died with its process
BUDGET_S = 60.0  # agencies not answering by then count as failed, well inside STALE_AFTER
FLASH = "citizen_refresh"  # flashed codes, worded by the template


@bp.post("/refresh")
@citizen_required
def start_refresh_now():
    _action_form()
    now = utcnow()
    # Read apart from the request's writer session: the rate limiter below counts in a transaction
    # of its own, which on SQLite would wait on the writer's lock.
    with runtime().sessions() as reader:
        running = is_running(latest_refresh(reader, g.citizen_id), now=now, stale_after=STALE_AFTER)
    if running:
        flash("running", FLASH)
        return redirect(url_for(".refresh_status"), 303)
    try:
        check(REFRESH_LIMIT.scope, g.citizen_id, limit=REFRESH_LIMIT.limit, window=REFRESH_LIMIT.window)
    except RateLimited as exc:
        page = render_template(
            "citizen/refresh.html", refresh=None, agencies={}, limited=_wait_words(exc.retry_after)
        )
        return page, 429, {"Retry-After": str(exc.retry_after)}
    store = request_db()
    refresh_id = start_refresh(store, citizen_id=g.citizen_id, now=now, stale_after=STALE_AFTER)
    store.commit()
    if refresh_id is None:  # another tab or process started one a moment ago
        flash("running", FLASH)
    else:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        runtime().background.submit(_run, app, g.citizen_id, refresh_id, g.get("request_id"))
        log.info("citizen_refresh_started", citizen_id=g.citizen_id, refresh_id=refresh_id)
    return redirect(url_for(".refresh_status"), 303)


@bp.get("/refresh")
@citizen_required
def refresh_status():
    rt, now = runtime(), utcnow()
    refresh = latest_refresh(request_db(), g.citizen_id)
    running = is_running(refresh, now=now, stale_after=STALE_AFTER)
    agencies = {code: agency.name for code, agency in rt.catalogue.agencies.items()}
    return render_template(
        "citizen/refresh.html", refresh=refresh, running=running, agencies=agencies, limited=None
    )


def _run(app: Flask, citizen_id: str, refresh_id: int, request_id: str | None) -> None:
    """The background job: fetch, store, audit and mark the status row done, in one transaction.
    If anything goes wrong nothing of the refresh is kept and the row says it could not finish."""
    with app.app_context():
        g.request_id = request_id  # the audit entry names the request that asked
        rt = runtime()
        # Read the citizen in a short session of its own, so the writer's transaction (BEGIN
        # IMMEDIATE on SQLite) starts only once the agencies have answered, not while they think.
        with rt.sessions() as reader:
            citizen = reader.get(Citizen, citizen_id)
            if citizen is not None:
                reader.expunge(citizen)
        with rt.writer_sessions() as session:
            try:
                if citizen is None:
                    raise LookupError("citizen gone")
                session.add(citizen)
                result = refresh_citizen(
                    session,
                    registry=rt.connectors,
                    vault=rt.vault,
                    catalogue=rt.catalogue,
                    citizen=citizen,
                    now=utcnow(),
                    budget_s=BUDGET_S,
                )
                event = refresh_event(citizen, result)
                details = {**(event.details or {}), "actor": "citizen"}
                record(session, dataclasses.replace(event, details=details))
                finish_refresh(session, refresh_id=refresh_id, result=result, now=utcnow())
                session.commit()
                log.info("citizen_refreshed", citizen_id=citizen_id, failed=sorted(result.failed))
            except Exception:
                session.rollback()
                finish_refresh(session, refresh_id=refresh_id, result=None, now=utcnow())
                session.commit()
                raise
