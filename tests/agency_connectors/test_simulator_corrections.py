"""The simulated agency answers correction requests end to end over real HTTP: told to (its control
endpoint), it reads its queue from the live platform with signed calls, corrects a plain value in
its records and answers "corrected", rejects a structured one with a reason; the platform then
fetches the corrected value into the citizen's profile."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid

import pytest

from agency_connectors.refresh import refresh_citizen
from agency_connectors.simulators import DEMO_CONTROL_KEY
from app.config import demo_notify_secret
from core.clock import utcnow
from profile_store import corrections as service
from profile_store.assembly import load_fields
from profile_store.correction_models import CorrectionRequest
from profile_store.models import Citizen
from tests.factories import make_citizen


def control(simulators, agency, payload, *, key=DEMO_CONTROL_KEY):
    request = urllib.request.Request(  # noqa: S310 - the loopback simulators
        f"{simulators.base_url}/_control/{agency}/corrections",
        data=json.dumps(payload).encode(),
        method="POST",
        headers={"X-Control-Key": key, "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read())


@pytest.fixture
def reported(live_app, simulators):
    """A citizen fetched from the identity simulator, with two requests: their name (plain) and
    their sex (a code), committed into the live server's database."""
    rt = live_app.extensions["consentry"]
    with rt.writer_sessions() as session:
        citizen = make_citizen(session, rt.vault)
        refresh_citizen(
            session, registry=rt.connectors, vault=rt.vault, catalogue=rt.catalogue, citizen=citizen,
            now=utcnow(), agencies=["identity"],
        )  # fmt: skip
        new_name = f"CORRECTED {uuid.uuid4().hex[:8].upper()}"
        ids = {}
        for attribute, value in (("name", new_name), ("sex", "MALE")):
            row, _ = service.file_correction(
                session, vault=rt.vault, citizen=citizen, attribute=attribute, what="Wrong",
                correct_value=value, note="", submission=uuid.uuid4().hex, now=utcnow(),
            )  # fmt: skip
            ids[attribute] = row.id
        session.commit()
        return citizen.id, ids, new_name


def test_the_simulated_agency_answers_and_the_corrected_value_is_fetched(
    live_app, live_server, simulators, reported
):
    citizen_id, ids, new_name = reported
    told = {"platform_url": live_server, "secret": demo_notify_secret("identity")}
    status, counts = control(simulators, "identity", told)
    assert status == 200 and counts["agency"] == "identity" and counts["failed"] == 0
    assert counts["corrected"] >= 1 and counts["rejected"] >= 1
    rt = live_app.extensions["consentry"]
    assert rt.background.wait_idle(timeout=30)
    with rt.sessions() as session:
        name_row = session.get(CorrectionRequest, ids["name"])
        sex_row = session.get(CorrectionRequest, ids["sex"])
        assert name_row.status == "corrected"
        assert sex_row.status == "rejected" and "cannot change" in sex_row.reason
        citizen = session.get(Citizen, citizen_id)
        fields = load_fields(session, vault=rt.vault, catalogue=rt.catalogue, citizen=citizen)
        assert fields["name"].item["value"] == new_name
    # Told again: nothing is open any more, so nothing of this citizen's changes.
    status, _counts = control(simulators, "identity", told)
    assert status == 200
    with rt.sessions() as session:
        assert session.get(CorrectionRequest, ids["sex"]).status == "rejected"


def test_the_control_endpoint_refuses_bad_calls(live_server, simulators):
    good = {"platform_url": live_server, "secret": demo_notify_secret("identity")}
    assert control(simulators, "identity", good, key="wrong")[0] == 401
    assert control(simulators, "identity", {"secret": "x"})[0] == 400
    assert control(simulators, "identity", {**good, "platform_url": "file:///etc/passwd"})[0] == 400
    assert control(simulators, "nosuch", good)[0] == 404
    status, body = control(simulators, "identity", {**good, "secret": "not-the-secret"})
    assert status == 502 and "401" in body["error_description"]


def test_a_request_withdrawn_after_the_agency_read_it_is_counted_and_left_alone(
    live_app, live_server, reported, monkeypatch
):
    """The citizen withdraws between the clerk's read and answer: the platform refuses the answer
    (409), the simulator counts it "withdrawn" rather than failed, and keeps no correction."""
    from agency_connectors.simulators import corrections as clerk
    from agency_connectors.simulators.state import SimulatorState, default_config

    citizen_id, ids, _ = reported
    told = {"platform_url": live_server, "secret": demo_notify_secret("identity")}
    read = []
    real_open = clerk._open_requests

    def read_then_citizen_withdraws(platform_url, agency, secret, status):
        items = list(real_open(platform_url, agency, secret, status))
        mine = [item for item in items if item["id"] == ids["name"]]
        read.extend(mine)
        if mine:
            rt = live_app.extensions["consentry"]
            with rt.writer_sessions() as session:
                citizen = session.get(Citizen, citizen_id)
                service.withdraw_correction(session, citizen=citizen, request_id=ids["name"], now=utcnow())
                session.commit()
        return mine

    monkeypatch.setattr(clerk, "_open_requests", read_then_citizen_withdraws)
    state = SimulatorState(default_config())
    counts = clerk.answer_corrections(state, "identity", **told)

    assert read and counts["withdrawn"] == 1 and counts["failed"] == 0 and counts["corrected"] == 0
    assert state.corrected_items("identity", read[0]["uinfin"]) == {}
    rt = live_app.extensions["consentry"]
    with rt.sessions() as session:
        assert session.get(CorrectionRequest, ids["name"]).status == "withdrawn"
