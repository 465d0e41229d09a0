"""A consent's life over HTTP, CSRF on, with tokens from the real MyInfo v4 flow: pausing refuses
the app's token (invalid_token) and resuming accepts it again; dropping an optional item takes it
out of the next person call; a "this request only" consent reads as Used once released; Current
and Past on "My consents"; the apps' status endpoint; "This wasn't me" to the auditors' queue."""

from __future__ import annotations

import json
import re
import secrets
import time
from zoneinfo import ZoneInfo

import pytest
from joserfc import jwt
from sqlalchemy import select

from app.display_time import citizen_time
from audit.disclosure_reports import DisclosureReport
from consent.grant_models import IssuedToken
from consent.models import Consent
from tests.audit_rows import written_here
from tests.factories import make_citizen
from tests.http.staff_flow import signed_in_staff
from tests.oauth import flow
from tests.oauth.flow import (
    CLIENT_ID,
    CSRF_INPUT,
    AgencyKeys,
    authorize,
    consent_path,
    decide,
    get_person,
    get_token,
    open_person,
    redirect_params,
)

STATUS_URL = "http://localhost/api/agency-apps/consents/status"


def standing(client, citizen, keys, verifier, dpop_key, *, attributes=("regadd",)) -> tuple[str, str]:
    """A consent remembered for a month from the consent screen, and an access token under it."""
    flow.sign_in(client, citizen.id)
    path = consent_path(authorize(client, verifier))
    code = redirect_params(decide(client, path, attributes=list(attributes), remember="1m"))["code"]
    token = get_token(client, keys, code, verifier, dpop_key)["access_token"]
    return token, path


def only_consent(db_session, citizen) -> Consent:
    db_session.expire_all()
    return db_session.scalars(select(Consent).where(Consent.citizen_id == citizen.id)).one()


def post_form(client, path: str, **data):
    page = client.get(path)
    assert page.status_code == 200, page.text
    return client.post(path, data={"csrf_token": CSRF_INPUT.search(page.text).group(1), **data})


def kinds(db_session, kind: str) -> list[dict]:
    return [json.loads(row.body) for row in written_here(db_session, kind=kind)]


def test_pausing_refuses_the_apps_token_and_resuming_accepts_it(
    client, db_session, keys, citizen, verifier, dpop_key
):
    token, _ = standing(client, citizen, keys, verifier, dpop_key)
    assert get_person(client, token, dpop_key).status_code == 200
    consent = only_consent(db_session, citizen)
    page = client.get("/citizen/consents").text
    assert f"/citizen/consents/{consent.id}/pause" in page and "Active" in page

    response = post_form(client, f"/citizen/consents/{consent.id}/pause")

    assert response.status_code == 303 and response.headers["Location"] == "/citizen/consents"
    refused = get_person(client, token, dpop_key)
    assert refused.status_code == 401 and refused.get_json()["error"] == "invalid_token"
    page = client.get("/citizen/consents").text
    assert "You paused your consent" in page and "Paused" in page
    assert f"/citizen/consents/{consent.id}/resume" in page
    [paused] = kinds(db_session, "consent_paused")
    assert paused["details"] == {"consent_id": consent.id, "by": "citizen"}
    assert paused["attributes"] == sorted(consent.approved) and paused["app_id"] == CLIENT_ID

    assert post_form(client, f"/citizen/consents/{consent.id}/resume").status_code == 303
    assert get_person(client, token, dpop_key).status_code == 200
    assert len(kinds(db_session, "consent_resumed")) == 1
    assert only_consent(db_session, citizen).paused_at is None


def test_pause_needs_csrf_and_another_citizens_consent_is_404(
    client, db_session, runtime, keys, citizen, verifier, dpop_key
):
    standing(client, citizen, keys, verifier, dpop_key)
    consent = only_consent(db_session, citizen)
    assert client.post(f"/citizen/consents/{consent.id}/pause").status_code == 400
    assert only_consent(db_session, citizen).paused_at is None
    other = make_citizen(db_session, runtime.vault)
    db_session.commit()
    flow.sign_in(client, other.id)
    for action in ("pause", "resume", "narrow"):
        assert client.get(f"/citizen/consents/{consent.id}/{action}").status_code == 404


def test_dropping_an_optional_item_takes_it_out_of_the_next_person_call(
    client, db_session, runtime, keys, citizen, verifier, dpop_key
):
    token, _ = standing(client, citizen, keys, verifier, dpop_key, attributes=("regadd", "noa-basic"))
    jwks = client.get("/.well-known/keys.json").get_json()
    person, _ = open_person(get_person(client, token, dpop_key), keys, jwks)
    assert "regadd" in person
    consent = only_consent(db_session, citizen)
    path = f"/citizen/consents/{consent.id}/narrow"
    page = client.get(path).text
    assert 'value="regadd"' in page and 'value="name"' not in page
    assert "Items you cannot drop" in page and "Principal name" in page

    refused = post_form(client, path, drop="name")  # required: not offered, and refused
    assert refused.status_code == 400 and "There is a problem" in refused.text
    assert post_form(client, path, drop="regadd").status_code == 303

    person, _ = open_person(get_person(client, token, dpop_key), keys, jwks)
    assert "regadd" not in person and "noa-basic" in person and "name" in person
    consent = only_consent(db_session, citizen)
    assert "regadd" not in consent.approved and "regadd" in consent.declined
    [narrowed] = kinds(db_session, "consent_narrowed")
    assert narrowed["attributes"] == ["regadd"] and narrowed["details"]["consent_id"] == consent.id
    [release] = kinds(db_session, "disclosure")[-1:]
    assert "regadd" not in release["attributes"]


def test_a_request_only_consent_reads_as_used_once_released_under_past(
    client, db_session, keys, citizen, verifier, dpop_key
):
    code = flow.get_code(client, citizen.id, verifier, attributes=[])
    token = get_token(client, keys, code, verifier, dpop_key)["access_token"]
    consent = only_consent(db_session, citizen)
    page = client.get("/citizen/consents").text
    assert "<h2" in page and "Current" in page and "Past" not in page
    assert f"/citizen/consents/{consent.id}/withdraw" in page
    assert f"/citizen/consents/{consent.id}/pause" not in page  # this request only: no pause

    assert get_person(client, token, dpop_key).status_code == 200

    page = client.get("/citizen/consents").text
    assert "Used" in page and "Past" in page and "Current" not in page.split("</h1>", 1)[1]
    # its token works for the rest of its 30 minutes, and withdrawing it stops that: offered
    assert f"/citizen/consents/{consent.id}/withdraw" in page
    assert only_consent(db_session, citizen).used_at is not None


def test_a_withdrawn_consent_is_listed_under_past(client, db_session, keys, citizen, verifier, dpop_key):
    standing(client, citizen, keys, verifier, dpop_key)
    consent = only_consent(db_session, citizen)
    assert post_form(client, f"/citizen/consents/{consent.id}/withdraw").status_code == 303
    page = client.get("/citizen/consents").text
    past = page.split(">Past</h2>", 1)
    assert len(past) == 2 and "Withdrawn" in past[1]


# --- the apps' status endpoint ------------------------------------------------------------------


def assertion(keys: AgencyKeys, *, client_id: str = CLIENT_ID, aud: str = STATUS_URL) -> str:
    now = int(time.time())
    body = {"iss": client_id, "sub": client_id, "aud": aud, "jti": secrets.token_urlsafe(16)}
    body |= {"iat": now, "exp": now + 60}
    return jwt.encode({"alg": "ES256", "typ": "JWT", "kid": keys.signing.kid}, body, keys.signing)


def status(client, keys, **params):
    form = {"client_id": CLIENT_ID, "client_assertion_type": flow.ASSERTION_TYPE}
    form["client_assertion"] = assertion(keys)
    form = {k: v for k, v in (form | params).items() if v is not None}
    return client.post("/api/agency-apps/consents/status", data=form)


def test_the_status_endpoint_tells_the_app_of_a_pause_and_a_withdrawal(
    client, db_session, keys, citizen, verifier, dpop_key
):
    token, _ = standing(client, citizen, keys, verifier, dpop_key)
    jti = flow.token_claims(token)["jti"]
    consent = only_consent(db_session, citizen)

    [row] = status(client, keys, token_jti=jti).get_json()["consents"]
    assert row["consent_id"] == consent.id and row["state"] == "active" and row["remembered"] is True
    post_form(client, f"/citizen/consents/{consent.id}/pause")
    assert status(client, keys, consent_id=consent.id).get_json()["consents"][0]["state"] == "paused"
    post_form(client, f"/citizen/consents/{consent.id}/withdraw")
    answer = status(client, keys, token_jti=jti)
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    [row] = answer.get_json()["consents"]
    assert row["state"] == "withdrawn" and row["withdrawn_at"] is not None
    assert status(client, keys, token_jti="no-such-token").get_json() == {"consents": [], "next_cursor": None}


def test_the_status_endpoint_pages_and_checks_its_caller(client, db_session, keys, citizen, verifier):
    for _ in range(3):
        flow.get_code(client, citizen.id, verifier, attributes=[])
    first = status(client, keys, limit="2").get_json()
    assert len(first["consents"]) == 2 and first["next_cursor"]
    second = status(client, keys, limit="2", cursor=first["next_cursor"]).get_json()
    assert len(second["consents"]) == 1 and second["next_cursor"] is None
    assert status(client, keys, limit="0").status_code == 400
    assert status(client, keys, client_assertion=None).status_code == 401
    wrong_aud = status(client, keys, client_assertion=assertion(keys, aud=flow.TOKEN_URL))
    assert wrong_aud.status_code == 401 and wrong_aud.get_json()["error"] == "invalid_client"
    assert client.get("/api/agency-apps/consents/status").status_code == 405


# --- "This wasn't me" ---------------------------------------------------------------------------


def released(client, keys, citizen, verifier, dpop_key) -> int:
    """A release under a standing consent; its seq."""
    token, _ = standing(client, citizen, keys, verifier, dpop_key)
    assert get_person(client, token, dpop_key).status_code == 200
    entries = client.get("/api/citizen/disclosures").get_json()["entries"]
    return next(e["seq"] for e in entries if e["kind"] == "disclosure")


def test_this_wasnt_me_files_a_report_the_auditor_sees_and_moves(
    client, app, db_session, keys, citizen, verifier, dpop_key
):
    seq = released(client, keys, citizen, verifier, dpop_key)
    history = client.get("/citizen/history").text
    assert f'action="/citizen/history/{seq}/not-me"' in history and "This wasn't me" in history
    token = CSRF_INPUT.search(history).group(1)
    confirm = client.post(f"/citizen/history/{seq}/not-me", data={"csrf_token": token})
    assert confirm.status_code == 200 and 'name="note"' in confirm.text
    token = CSRF_INPUT.search(confirm.text).group(1)
    too_long = client.post(f"/citizen/history/{seq}/report", data={"csrf_token": token, "note": "x" * 1001})
    assert too_long.status_code == 400 and "1000 characters or fewer" in too_long.text

    sent = client.post(f"/citizen/history/{seq}/report", data={"csrf_token": token, "note": "Never used it"})

    assert sent.status_code == 303
    done = client.get(sent.headers["Location"])
    consent = only_consent(db_session, citizen)
    assert "Report sent" in done.text and "Withdraw the consent behind it" in done.text
    assert f"/citizen/consents/{consent.id}/withdraw" in done.text
    report = db_session.scalars(select(DisclosureReport).where(DisclosureReport.seq == seq)).one()
    assert report.seq == seq and report.state == "open" and report.note == "Never used it"
    [entry] = kinds(db_session, "disclosure_reported")
    assert entry["details"]["seq"] == seq and "Never used it" not in json.dumps(entry)

    staff_client = app.test_client()
    signed_in_staff(staff_client, "auditor")
    queue = staff_client.get("/auditor/citizen-reports")
    assert queue.status_code == 200 and f'href="/auditor/entries/{seq}"' in queue.text
    assert "Never used it" in queue.text and "Open" in queue.text
    token = CSRF_INPUT.search(queue.text).group(1)
    path = f"/auditor/citizen-reports/{report.id}"
    no_reason = staff_client.post(path, data={"csrf_token": token, "state": "investigating"})
    assert no_reason.status_code == 303
    db_session.expire_all()
    assert db_session.get(DisclosureReport, report.id).state == "open"
    moved = staff_client.post(
        path, data={"csrf_token": token, "state": "investigating", "reason": "asked the agency"}
    )
    assert moved.status_code == 303
    db_session.expire_all()
    assert db_session.get(DisclosureReport, report.id).state == "investigating"
    [update] = kinds(db_session, "disclosure_report_updated")
    assert update["details"]["state"] == "investigating" and update["details"]["reason"] == "asked the agency"
    assert "Investigating" in staff_client.get("/auditor/citizen-reports?state=investigating").text
    assert client.get("/auditor/citizen-reports").status_code in (302, 303, 403)  # not for citizens


def test_a_used_request_only_consent_is_not_still_in_place_but_open_until_its_token_expires(
    client, app, db_session, keys, citizen, verifier, dpop_key
):
    """Reported while its token lasts: not "still in place" (it was for one request), but the app
    can still get the details until the token's expiry, in the portal's zone; withdrawing stops it."""
    code = flow.get_code(client, citizen.id, verifier, attributes=[])  # this request only
    token = get_token(client, keys, code, verifier, dpop_key)["access_token"]
    assert get_person(client, token, dpop_key).status_code == 200
    consent = only_consent(db_session, citizen)
    issued = db_session.scalars(select(IssuedToken).where(IssuedToken.consent_id == consent.id)).one()
    seq = next(
        e["seq"]
        for e in client.get("/api/citizen/disclosures").get_json()["entries"]
        if e["kind"] == "disclosure"
    )
    history = client.get("/citizen/history").text
    token_form = CSRF_INPUT.search(history).group(1)
    sent = client.post(f"/citizen/history/{seq}/report", data={"csrf_token": token_form, "note": ""})

    page = client.get(sent.headers["Location"]).text

    with app.test_request_context():
        until = citizen_time(min(issued.expires_at, consent.expires_at), ZoneInfo("Asia/Singapore"))
    assert "still in place" not in page
    assert (
        f"for that one request only, but the service can still use it to get your details until {until}"
        in page
    )
    assert "(Singapore time), when its access ends" in page
    assert f"/citizen/consents/{consent.id}/withdraw" in page
    assert post_form(client, f"/citizen/consents/{consent.id}/withdraw").status_code == 303
    refused = get_person(client, token, dpop_key)  # what the page promised withdrawal does
    assert refused.status_code == 401 and refused.get_json()["error"] == "invalid_token"
    after = client.get(sent.headers["Location"]).text
    assert "can still use it" not in after and "has already ended" in after


def test_a_standing_consent_behind_a_report_is_still_in_place(
    client, db_session, keys, citizen, verifier, dpop_key
):
    seq = released(client, keys, citizen, verifier, dpop_key)
    token = CSRF_INPUT.search(client.get("/citizen/history").text).group(1)
    sent = client.post(f"/citizen/history/{seq}/report", data={"csrf_token": token, "note": ""})
    page = client.get(sent.headers["Location"]).text
    assert "which is still in place" in page and "can still use it" not in page


def test_another_citizens_row_cannot_be_reported(
    client, db_session, runtime, keys, citizen, verifier, dpop_key
):
    seq = released(client, keys, citizen, verifier, dpop_key)
    other = make_citizen(db_session, runtime.vault)
    db_session.commit()
    flow.sign_in(client, other.id)
    token = CSRF_INPUT.search(client.get("/citizen/consents").text).group(1)
    assert client.post(f"/citizen/history/{seq}/not-me", data={"csrf_token": token}).status_code == 404
    assert client.post(f"/citizen/history/{seq}/report", data={"csrf_token": token}).status_code == 404
    assert client.get(f"/citizen/history/{seq + 10_000}/not-me").status_code == 404
    assert db_session.scalars(select(DisclosureReport).where(DisclosureReport.seq == seq)).all() == []


@pytest.mark.parametrize("path", ["/citizen/history/1/not-me", "/auditor/citizen-reports"])
def test_strangers_are_sent_to_sign_in(client, path):
    assert client.get(path).status_code in (302, 303)


def test_confirmation_pages_name_the_time_zone(client, db_session, keys, citizen, verifier, dpop_key):
    """Withdraw says when the consent was given, pause when it ends, each with the zone's name."""
    standing(client, citizen, keys, verifier, dpop_key)
    consent = only_consent(db_session, citizen)
    withdraw = client.get(f"/citizen/consents/{consent.id}/withdraw").text
    pause = client.get(f"/citizen/consents/{consent.id}/pause").text
    assert re.search(r">\s*Given\s*</dt>\s*<dd[^>]*>\s*[^<]+\(Singapore time\)", withdraw)
    assert re.search(r">\s*Until\s*</dt>\s*<dd[^>]*>\s*[^<]+\(Singapore time\)", pause)
