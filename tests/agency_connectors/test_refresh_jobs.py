"""Citizen refresh status rows: at most one running per citizen, also when starts race on separate
connections (committed for real, then removed); a stale running row is abandoned."""

from __future__ import annotations

import datetime as dt
import threading

from sqlalchemy import delete, select
from sqlalchemy.orm import sessionmaker

from agency_connectors.refresh import AgencyOutcome, RefreshResult
from agency_connectors.refresh_jobs import (
    ABANDONED,
    RUNNING,
    CitizenRefresh,
    finish_refresh,
    is_running,
    latest_refresh,
    start_refresh,
)
from profile_store.models import Citizen
from tests.factories import make_citizen

STALE = dt.timedelta(minutes=2)


def test_one_running_refresh_per_citizen(db_session, runtime, now):
    citizen = make_citizen(db_session, runtime.vault)
    first = start_refresh(db_session, citizen_id=citizen.id, now=now, stale_after=STALE)
    assert first is not None
    assert start_refresh(db_session, citizen_id=citizen.id, now=now, stale_after=STALE) is None
    other = make_citizen(db_session, runtime.vault)
    assert start_refresh(db_session, citizen_id=other.id, now=now, stale_after=STALE) is not None
    result = RefreshResult(citizen.id, {"tax": AgencyOutcome("tax", ok=False, reason="timeout")})
    finish_refresh(db_session, refresh_id=first, result=result, now=now)
    again = start_refresh(db_session, citizen_id=citizen.id, now=now, stale_after=STALE)
    assert again is not None and again != first
    latest = latest_refresh(db_session, citizen.id)
    assert latest.id == again and is_running(latest, now=now, stale_after=STALE)
    done = db_session.get(CitizenRefresh, first)
    db_session.refresh(done)
    assert done.outcomes == {"tax": {"outcome": "failed", "reason": "timeout"}}


def test_a_stale_running_refresh_is_abandoned(db_session, runtime, now):
    citizen = make_citizen(db_session, runtime.vault)
    old = start_refresh(db_session, citizen_id=citizen.id, now=now - 3 * STALE, stale_after=STALE)
    assert not is_running(latest_refresh(db_session, citizen.id), now=now, stale_after=STALE)
    new = start_refresh(db_session, citizen_id=citizen.id, now=now, stale_after=STALE)
    assert new is not None
    db_session.expire_all()
    assert db_session.get(CitizenRefresh, old).state == ABANDONED
    assert db_session.get(CitizenRefresh, new).state == RUNNING


def test_concurrent_starts_on_separate_connections_run_one(engine, runtime, now):
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    with sessions() as session:
        citizen_id = make_citizen(session, runtime.vault).id
        session.commit()
    starters, barrier, got = 6, threading.Barrier(6), []

    def start() -> None:
        with sessions() as session:
            barrier.wait()
            got.append(start_refresh(session, citizen_id=citizen_id, now=now, stale_after=STALE))
            session.commit()

    try:
        threads = [threading.Thread(target=start) for _ in range(starters)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert len(got) == starters
        assert len([claimed for claimed in got if claimed is not None]) == 1
        with sessions() as session:
            rows = session.scalars(select(CitizenRefresh).where(CitizenRefresh.citizen_id == citizen_id))
            assert [row.state for row in rows] == [RUNNING]
    finally:
        with sessions() as session:
            session.execute(delete(Citizen).where(Citizen.id == citizen_id))
            session.commit()
