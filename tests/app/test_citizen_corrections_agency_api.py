"""The agency API's correction requests (Flask test client, real HMAC signatures): an agency pages
through its own queue and answers; a missing, stale or wrong signature, another agency's request,
bad bodies and answers the status does not allow each get a JSON error and change nothing; a
"corrected" answer refreshes that agency's values for the citizen in the background, audited."""

from __future__ import annotations

import datetime as dt
import json
import time
import urllib.parse
import uuid

import pytest
from sqlalchemy import select

from agency_connectors.signed_requests import sign_request
from app.config import demo_notify_secret
from audit.models import AuditEntry
from core.clock import utcnow
from profile_store import corrections as service
from profile_store.correction_models import CorrectionRequest
from profile_store.fields import apply_agency_record
from profile_store.models import AgencySync
from tests.factories import make_citizen

OLD = dt.datetime(2001, 1, 1, tzinfo=dt.UTC)  # before any other test's requests: first in the queue


def signed(client, method, target, payload=None, *, agency="identity", secret=None, timestamp=None):
    body = json.dumps(payload).encode() if payload is not None else b""
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    signature = sign_request(secret or demo_notify_secret(agency), stamp, method, target, body)
    headers = {"X-Timestamp": stamp, "X-Signature": signature}
    path, _, query = target.partition("?")
    return client.open(path, method=method, data=body, headers=headers, query_string=query)


@pytest.fixture
def filed(db_session, runtime):
    """Three requests about one citizen's name (identity), filed long ago, committed."""
    citizen = make_citizen(db_session, runtime.vault)
    apply_agency_record(
        db_session, vault=runtime.vault, catalogue=runtime.catalogue, citizen=citizen, agency="identity",
        items={"name": {"value": "TAN AH KOW"}}, now=utcnow(),
    )  # fmt: skip
    rows = [
        service.file_correction(
            db_session,
            vault=runtime.vault,
            citizen=citizen,
            attribute="name",
            what=f"wrong {n}",
            correct_value="TAN AH KAU",
            note="",
            submission=uuid.uuid4().hex,
            now=OLD + dt.timedelta(seconds=n),
        )[0]
        for n in range(3)
    ]
    db_session.commit()
    return citizen, [row.id for row in rows]


def test_an_agency_pages_through_its_queue(client, filed):
    _citizen, ids = filed
    seen, cursor = [], None
    for _ in range(50):
        query = {"status": "sent", "limit": "2", **({"cursor": cursor} if cursor else {})}
        response = signed(client, "GET", f"/agency-api/identity/corrections?{urllib.parse.urlencode(query)}")
        assert response.status_code == 200, response.text
        assert response.headers["Cache-Control"] == "no-store"
        page = response.get_json()
        seen += [item for item in page["items"] if item["id"] in ids]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [item["id"] for item in seen] == ids
    first = seen[0]
    assert first["what"] == "wrong 0" and first["correct_value"] == "TAN AH KAU" and first["status"] == "sent"
    assert len(first["uinfin"]) == 9 and first["attribute"] == "name"


def test_each_request_an_agency_reads_is_audited_without_its_text(client, db_session, filed):
    citizen, ids = filed
    query = select(AuditEntry).where(
        AuditEntry.kind == "correction_read", AuditEntry.citizen_ref == citizen.uinfin_digest
    )
    assert db_session.scalars(query).all() == []
    signed(client, "GET", "/agency-api/identity/corrections?status=sent&limit=200")
    read = db_session.scalars(query).all()
    assert sorted(ids) == sorted(json.loads(entry.body)["details"]["request_id"] for entry in read)
    assert all("wrong" not in entry.body and "TAN" not in entry.body for entry in read)


def test_another_agency_never_sees_or_answers_them(client, filed):
    _citizen, ids = filed
    page = signed(client, "GET", "/agency-api/tax/corrections", agency="tax").get_json()
    assert not {item["id"] for item in page["items"]} & set(ids)
    refused = signed(
        client, "POST", f"/agency-api/tax/corrections/{ids[0]}", {"status": "corrected"}, agency="tax"
    )
    assert refused.status_code == 404 and refused.get_json()["error"] == "not_found"
    # Signed with the identity secret but under tax's path: the signature does not match tax's secret.
    forged = signed(
        client, "GET", "/agency-api/tax/corrections", agency="tax", secret=demo_notify_secret("identity")
    )
    assert forged.status_code == 401


def test_bad_signatures_are_refused_as_json(client, filed):
    target = "/agency-api/identity/corrections"
    assert client.get(target).status_code == 401
    assert client.get(target, headers={"Accept": "text/html"}).get_json()["error"] == "unauthorized"
    stale = signed(client, "GET", target, timestamp=int(time.time()) - 3600)
    assert stale.status_code == 401
    wrong = signed(client, "GET", target, secret="not-the-secret")
    assert wrong.status_code == 401
    # A signature over one query does not serve another.
    stamp = str(int(time.time()))
    signature = sign_request(demo_notify_secret("identity"), stamp, "GET", target + "?status=sent", b"")
    other = client.get(
        target, query_string="status=rejected", headers={"X-Timestamp": stamp, "X-Signature": signature}
    )
    assert other.status_code == 401
    assert signed(client, "GET", "/agency-api/nosuch/corrections", agency="nosuch").status_code == 404


def test_bad_queries_and_bodies_get_json_errors_and_change_nothing(client, db_session, filed):
    _citizen, ids = filed
    for query in ("status=lost", "cursor=bad!", "limit=0", "limit=1000", "colour=red"):
        response = signed(client, "GET", f"/agency-api/identity/corrections?{query}")
        assert response.status_code == 400 and response.get_json()["error"] == "invalid_request", query
    path = f"/agency-api/identity/corrections/{ids[0]}"
    for payload in ({"status": "rejected"}, {"status": "sent"}, {"status": "corrected", "extra": 1}, ["x"]):
        response = signed(client, "POST", path, payload)
        assert response.status_code == 400 and response.get_json()["error"] == "invalid_request", payload
    assert signed(client, "POST", path, {"status": "rejected", "reason": "r" * 501}).status_code == 400
    assert (
        signed(
            client, "POST", "/agency-api/identity/corrections/" + "x" * 60, {"status": "corrected"}
        ).status_code
        == 404
    )
    db_session.expire_all()
    assert db_session.get(CorrectionRequest, ids[0]).status == "sent"


def test_answers_move_forward_and_are_audited_once(client, db_session, filed):
    citizen, ids = filed
    path = f"/agency-api/identity/corrections/{ids[1]}"
    ack = signed(client, "POST", path, {"status": "acknowledged"})
    assert ack.status_code == 200 and ack.get_json()["changed"] is True
    assert signed(client, "POST", path, {"status": "acknowledged"}).get_json()["changed"] is False
    reason = "We hold the spelling on your birth certificate."
    rejected = signed(client, "POST", path, {"status": "rejected", "reason": reason})
    assert rejected.get_json() | {"updated_at": None} == {
        "id": ids[1], "status": "rejected", "reason": reason, "updated_at": None, "changed": True,
    }  # fmt: skip
    late = signed(client, "POST", path, {"status": "corrected"})
    assert late.status_code == 409 and late.get_json()["error"] == "conflict"
    entries = db_session.scalars(
        select(AuditEntry).where(
            AuditEntry.kind == "correction_answered", AuditEntry.citizen_ref == citizen.uinfin_digest
        )
    ).all()
    assert [entry.outcome for entry in entries] == ["acknowledged", "rejected"]
    assert all(reason not in str(entry.body) for entry in entries)


def test_corrected_refreshes_that_agency_for_the_citizen(app, client, db_session, runtime, filed):
    citizen, ids = filed
    before = db_session.get(AgencySync, (citizen.id, "identity"))
    before_attempt = before.attempted_at if before else None
    response = signed(client, "POST", f"/agency-api/identity/corrections/{ids[2]}", {"status": "corrected"})
    assert response.status_code == 200 and response.get_json()["status"] == "corrected"
    assert app.extensions["consentry"].background.wait_idle(timeout=30)
    db_session.expire_all()
    sync = db_session.get(AgencySync, (citizen.id, "identity"))
    assert sync is not None and sync.attempted_at != before_attempt
    refreshed = db_session.scalars(
        select(AuditEntry).where(
            AuditEntry.kind == "profile_refreshed", AuditEntry.citizen_ref == citizen.uinfin_digest
        )
    ).all()
    assert any('"correction"' in str(entry.body) for entry in refreshed)
    assert db_session.get(AgencySync, (citizen.id, "tax")) is None  # only the agency that answered


def test_a_withdrawn_request_shows_as_withdrawn_and_an_answer_to_it_is_a_clear_409(
    client, db_session, runtime, filed
):
    citizen, ids = filed
    service.withdraw_correction(db_session, citizen=citizen, request_id=ids[2], now=utcnow())
    db_session.commit()

    page = signed(client, "GET", "/agency-api/identity/corrections?status=withdrawn&limit=100")
    assert page.status_code == 200
    [item] = [item for item in page.get_json()["items"] if item["id"] == ids[2]]
    assert item["status"] == "withdrawn"
    open_ids = [
        i["id"]
        for i in signed(client, "GET", "/agency-api/identity/corrections?status=sent").get_json()["items"]
    ]
    assert ids[2] not in open_ids
    for answer in (
        {"status": "acknowledged"},
        {"status": "corrected"},
        {"status": "rejected", "reason": "No"},
    ):
        refused = signed(client, "POST", f"/agency-api/identity/corrections/{ids[2]}", answer)
        assert refused.status_code == 409 and refused.headers["Content-Type"] == "application/json"
        body = refused.get_json()
        assert body == {"error": "conflict", "error_description": service.WITHDRAWN_ANSWERED}
    db_session.expire_all()
    assert db_session.get(CorrectionRequest, ids[2]).status == "withdrawn"
