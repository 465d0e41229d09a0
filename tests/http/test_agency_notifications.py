"""Agencies push signed change notices; each one refreshes that citizen from that agency."""

import json
import time

import pytest

from agency_connectors.notifications import sign
from profile_store.assembly import load_fields
from tests.factories import fresh_uinfin, make_citizen


def post(client, agency, payload, *, secret=None, timestamp=None, signature=None, raw=None):
    body = raw if raw is not None else json.dumps(payload).encode()
    ts = str(int(time.time()) if timestamp is None else timestamp)
    secret = secret or f"demo-{agency}-notify-secret"
    headers = {
        "X-Timestamp": ts,
        "X-Signature": sign(secret, ts, body) if signature is None else signature,
        "Content-Type": "application/json",
    }
    return client.post(f"/agency-notifications/{agency}", data=body, headers=headers)


@pytest.fixture
def citizen(db_session, runtime):
    person = make_citizen(db_session, runtime.vault)
    db_session.commit()
    return person


def notice(runtime, citizen, notice_id="n-1"):
    from profile_store.citizens import reveal_uinfin

    return {
        "notice_id": notice_id,
        "event": "address_changed",
        "uinfin": reveal_uinfin(runtime.vault, citizen),
    }


def test_signed_notice_refreshes_that_agency_only(client, runtime, citizen, db_session, simulators):
    response = post(client, "identity", notice(runtime, citizen))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "refreshed"
    assert simulators.stats()["identity"]["requests"] == 1
    assert simulators.stats()["tax"]["requests"] == 0
    fields = load_fields(
        db_session,
        vault=runtime.vault,
        catalogue=runtime.catalogue,
        citizen=citizen,
        attributes=["regadd", "noa-basic"],
    )
    assert not fields["regadd"].unavailable
    assert fields["noa-basic"].unavailable, "other agencies untouched"


def test_replayed_notice_is_refused(client, runtime, citizen):
    assert post(client, "identity", notice(runtime, citizen)).status_code == 200
    again = post(client, "identity", notice(runtime, citizen))
    assert again.status_code == 409 and again.get_json()["error"] == "conflict"


@pytest.mark.parametrize(
    "tamper",
    [
        {"secret": "demo-tax-notify-secret"},  # another agency's secret
        {"signature": "sha256=" + "0" * 64},
        {"timestamp": int(time.time()) - 3600},
        {"signature": ""},
    ],
)
def test_bad_signatures_are_401_and_change_nothing(client, runtime, citizen, simulators, tamper):
    response = post(client, "identity", notice(runtime, citizen), **tamper)
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthorized"
    assert simulators.stats()["identity"]["requests"] == 0


@pytest.mark.parametrize(
    ("payload", "raw", "status"),
    [
        ({"notice_id": "x", "event": "e"}, None, 400),
        ({"notice_id": "x", "event": "e", "uinfin": "S1234567A"}, None, 400),
        ({"notice_id": "x", "event": "e", "uinfin": "S1234567D", "extra": 1}, None, 400),
        (None, b'{"notice_id": "x", "ev', 400),
        (None, b"[]", 400),
    ],
)
def test_malformed_notices_are_4xx(client, payload, raw, status):
    response = post(client, "identity", payload, raw=raw)
    assert response.status_code == status
    assert "error" in response.get_json()


def test_unknown_citizen_and_unknown_agency(client):
    payload = {"notice_id": "x", "event": "e", "uinfin": fresh_uinfin()}
    assert post(client, "identity", payload).status_code == 404
    assert post(client, "ministry-of-magic", payload).status_code == 404


def test_notice_for_an_agency_that_fails_keeps_nothing_so_it_can_be_resent(
    client, runtime, citizen, simulators
):
    simulators.set_fault("identity", outage=True)
    failed = post(client, "identity", notice(runtime, citizen, "n-2"))
    assert failed.status_code == 502 and failed.get_json()["error"] == "refresh_failed"
    simulators.reset()
    assert post(client, "identity", notice(runtime, citizen, "n-2")).status_code == 200
