"""'Refresh my record now' over HTTP (Flask test client, CSRF on) against the real simulators: the
refresh runs on the app's background pool and the status page shows each agency's outcome; one
agency down is 'failed' for it and its last values stay; a second click while one runs says so;
a dead (stale) running refresh does not block; the per-citizen limit; audited as the citizen."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from sqlalchemy import select

from agency_connectors.refresh import refresh_citizen
from agency_connectors.refresh_jobs import ABANDONED, DONE, RUNNING, CitizenRefresh, start_refresh
from agency_connectors.simulators.records import record_for
from audit.models import AuditEntry
from core.clock import utcnow
from core.uinfin import demo_uinfin
from profile_store.assembly import load_fields
from profile_store.fields import apply_agency_record
from tests.factories import make_citizen
from tests.oauth import flow

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
STALE = dt.timedelta(minutes=2)


@pytest.fixture
def citizen(db_session, runtime, simulators):
    now = utcnow() - dt.timedelta(minutes=5)
    made = make_citizen(db_session, runtime.vault, now=now)
    refresh_citizen(
        db_session,
        registry=runtime.connectors,
        vault=runtime.vault,
        catalogue=runtime.catalogue,
        citizen=made,
        now=now,
    )
    db_session.commit()
    return made


@pytest.fixture
def signed_in(client, citizen):
    flow.sign_in(client, citizen.id)
    return client


def press_refresh(client):
    page = client.get("/citizen/profile")
    assert page.status_code == 200, page.text
    assert "Refresh my record now" in page.text
    return client.post("/citizen/refresh", data={"csrf_token": CSRF_INPUT.search(page.text).group(1)})


def wait(app) -> None:
    assert app.extensions["consentry"].background.wait_idle(timeout=30)


def refreshes(db_session, citizen) -> list[CitizenRefresh]:
    db_session.expire_all()
    query = select(CitizenRefresh).where(CitizenRefresh.citizen_id == citizen.id).order_by(CitizenRefresh.id)
    return list(db_session.scalars(query))


def name_of(db_session, runtime, citizen) -> dict:
    db_session.expire_all()
    fields = load_fields(
        db_session, vault=runtime.vault, catalogue=runtime.catalogue, citizen=citizen, attributes=["name"]
    )
    return fields["name"].item


def test_the_refresh_runs_in_the_background_and_shows_each_agencys_outcome(
    app, signed_in, db_session, runtime, citizen
):
    # The identity registry sends someone else's record first, so this refresh changes it back.
    apply_agency_record(
        db_session,
        vault=runtime.vault,
        catalogue=runtime.catalogue,
        citizen=citizen,
        agency="identity",
        items=record_for("identity", demo_uinfin(0)),
        now=utcnow() - dt.timedelta(minutes=4),
    )
    db_session.commit()
    response = press_refresh(signed_in)
    assert response.status_code == 303 and response.headers["Location"] == "/citizen/refresh"
    wait(app)

    page = signed_in.get("/citizen/refresh")
    assert page.status_code == 200
    assert "What each agency said" in page.text
    shown = re.findall(r'id="outcome-([a-z]+)"', page.text)
    # Every agency, in the catalogue's order as on My profile (not the order they answered in).
    sources = runtime.catalogue.source_agencies()
    assert shown == [code for code in runtime.catalogue.agencies if code in sources]
    identity = page.text.split('id="outcome-identity"')[1].split("</tr>")[0]
    assert "Updated" in identity
    tax = page.text.split('id="outcome-tax"')[1].split("</tr>")[0]
    assert "No change" in tax or "No record" in tax
    assert "Back to My profile" in page.text

    (done,) = refreshes(db_session, citizen)
    assert done.state == DONE and done.finished_at is not None
    assert done.outcomes["identity"]["outcome"] == "updated"
    assert done.outcomes["tax"] in ({"outcome": "unchanged", "changed": 0}, {"outcome": "unavailable"})
    entry = db_session.scalars(
        select(AuditEntry).where(
            AuditEntry.kind == "profile_refreshed", AuditEntry.citizen_ref == citizen.uinfin_digest
        )
    ).one()
    assert json.loads(entry.body)["details"]["actor"] == "citizen"


def test_one_agency_down_is_failed_for_it_and_its_last_values_stay(
    app, signed_in, db_session, runtime, citizen, simulators
):
    before = name_of(db_session, runtime, citizen)
    simulators.set_fault("identity", outage=True)
    press_refresh(signed_in)
    wait(app)
    page = signed_in.get("/citizen/refresh").text
    identity = page.split('id="outcome-identity"')[1].split("</tr>")[0]
    assert "Not reached" in identity and "We kept the ones we had" in identity
    assert "Not reached" not in page.split('id="outcome-tax"')[1].split("</tr>")[0]
    (done,) = refreshes(db_session, citizen)
    assert done.outcomes["identity"]["outcome"] == "failed"
    assert done.outcomes["identity"]["reason"].startswith("http_503")
    assert name_of(db_session, runtime, citizen) == before


def test_an_agency_with_no_record_is_unavailable(app, signed_in, db_session, citizen, monkeypatch):
    from agency_connectors.refresh import AgencyOutcome, RefreshResult

    def no_record(session, **kwargs):
        return RefreshResult(kwargs["citizen"].id, {"tax": AgencyOutcome("tax", ok=True, found=False)})

    monkeypatch.setattr("app.citizen.refresh.refresh_citizen", no_record)
    press_refresh(signed_in)
    wait(app)
    assert "No record" in signed_in.get("/citizen/refresh").text
    assert refreshes(db_session, citizen)[0].outcomes == {"tax": {"outcome": "unavailable"}}


def test_a_second_click_while_one_runs_says_so_and_starts_nothing(app, signed_in, db_session, citizen):
    assert start_refresh(db_session, citizen_id=citizen.id, now=utcnow(), stale_after=STALE) is not None
    db_session.commit()
    response = press_refresh(signed_in)
    assert response.status_code == 303
    page = signed_in.get("/citizen/refresh").text
    assert "A refresh of your record is already running" in page
    assert "Check again" in page
    wait(app)
    assert [r.state for r in refreshes(db_session, citizen)] == [RUNNING]


def test_a_running_refresh_older_than_two_minutes_counts_as_dead(app, signed_in, db_session, citizen):
    long_ago = utcnow() - dt.timedelta(minutes=3)
    assert start_refresh(db_session, citizen_id=citizen.id, now=long_ago, stale_after=STALE) is not None
    db_session.commit()
    press_refresh(signed_in)
    wait(app)
    assert [r.state for r in refreshes(db_session, citizen)] == [ABANDONED, DONE]


def test_a_refresh_that_cannot_finish_keeps_nothing_and_says_so(
    app, signed_in, db_session, runtime, citizen, monkeypatch
):
    def broken(session, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("app.citizen.refresh.refresh_citizen", broken)
    press_refresh(signed_in)
    wait(app)
    (done,) = refreshes(db_session, citizen)
    assert done.state == DONE and done.outcomes is None
    assert "could not finish" in signed_in.get("/citizen/refresh").text


def test_refreshes_are_limited_per_citizen(app, signed_in, db_session, citizen):
    # One fixed moment inside a window, so the four presses never straddle a window's end.
    moment = utcnow().replace(minute=utcnow().minute // 10 * 10 + 1, second=0)
    app.extensions["consentry"].rate_limiter._clock = lambda: moment
    for _ in range(3):
        assert press_refresh(signed_in).status_code == 303
        wait(app)
    refused = press_refresh(signed_in)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert "You have refreshed your record 3 times in the last 10 minutes" in refused.text
    assert len(refreshes(db_session, citizen)) == 3


def test_the_button_needs_csrf_and_a_citizen(client, signed_in):
    assert signed_in.post("/citizen/refresh", data={}).status_code == 400
    anonymous = client.application.test_client()
    assert anonymous.get("/citizen/refresh").status_code == 303
    assert anonymous.post("/citizen/refresh").status_code in (303, 400)


def test_the_status_page_before_any_refresh(signed_in):
    page = signed_in.get("/citizen/refresh")
    assert page.status_code == 200
    assert "You have not asked for a refresh yet" in page.text
