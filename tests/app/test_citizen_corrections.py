"""'Report a mistake' and the national id's 'Show' over HTTP (Flask test client, CSRF on): the form
on a government-verified value only, errors next to their fields, a double submit filed once, a
forged post refused; every bad input a clear page and nothing half-written; audited without the
text; one citizen never reads another's requests; the step-up before the id is shown in full."""

from __future__ import annotations

import datetime as dt
import json
import re

import pyotp
import pytest
from sqlalchemy import select, update

from app import create_app
from audit.models import AuditEntry
from core.clock import utcnow
from identity.accounts import enrol
from identity.models import WebSession
from profile_store.citizens import reveal_uinfin
from profile_store.correction_models import CorrectionRequest
from profile_store.fields import apply_agency_record
from tests.factories import fresh_uinfin, make_citizen
from tests.oauth import flow

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
SUBMISSION_INPUT = re.compile(r'name="submission" value="([^"]+)"')
FORM = "/citizen/profile/name/wrong"
PASSWORD = "correct horse battery staple"
CONFIRM = "/citizen/profile/national-id/confirm"


def with_name(db_session, runtime, citizen, name="TAN AH KOW"):
    apply_agency_record(
        db_session, vault=runtime.vault, catalogue=runtime.catalogue, citizen=citizen, agency="identity",
        items={"name": {"value": name}, "uinfin": {"value": reveal_uinfin(runtime.vault, citizen)}},
        now=utcnow(),
    )  # fmt: skip


@pytest.fixture
def citizen(db_session, runtime):
    person = make_citizen(db_session, runtime.vault)
    with_name(db_session, runtime, person)
    db_session.commit()
    return person


def form_of(client, path=FORM):
    page = client.get(path)
    assert page.status_code == 200, page.text
    return {
        "csrf_token": CSRF_INPUT.search(page.text).group(1),
        "submission": SUBMISSION_INPUT.search(page.text).group(1),
    }


def answers(**changes):
    return {"what": "Misspelt", "correct_value": "TAN AH KAU", "note": "", **changes}


def requests_of(db_session, citizen) -> list[CorrectionRequest]:
    db_session.expire_all()
    query = select(CorrectionRequest).where(CorrectionRequest.citizen_id == citizen.id)
    return list(db_session.scalars(query))


def entries(db_session, citizen, kind) -> list[AuditEntry]:
    query = select(AuditEntry).where(AuditEntry.kind == kind, AuditEntry.citizen_ref == citizen.uinfin_digest)
    return list(db_session.scalars(query.order_by(AuditEntry.seq)))


def test_strangers_are_sent_to_sign_in(client, citizen):
    for path in (FORM, "/citizen/corrections", "/citizen/corrections/5b0e4f5e-0000-4000-8000-000000000000"):
        response = client.get(path)
        assert response.status_code == 303 and "/citizen/sign-in" in response.headers["Location"]
    assert client.post("/citizen/profile/national-id").status_code in (303, 400)


def test_the_profile_offers_this_is_wrong_on_agency_values_and_a_show_button(client, citizen):
    flow.sign_in(client, citizen.id)
    page = client.get("/citizen/profile").text
    assert 'href="/citizen/profile/name/wrong"' in page
    assert 'id="show-national-id"' in page
    assert 'href="/citizen/corrections"' in page


def test_a_request_is_filed_audited_without_its_text_and_listed(client, db_session, citizen):
    flow.sign_in(client, citizen.id)
    response = client.post(FORM, data={**form_of(client), **answers(note="As on my passport")})
    assert response.status_code == 303
    [row] = requests_of(db_session, citizen)
    assert response.headers["Location"].endswith(f"/citizen/corrections/{row.id}")
    assert (row.agency, row.attribute, row.status) == ("identity", "name", "sent")
    detail = client.get(response.headers["Location"]).text
    assert "Your request is sent to" in detail and "TAN AH KAU" in detail and "As on my passport" in detail
    listing = client.get("/citizen/corrections").text
    assert f'id="correction-{row.id}"' in listing and "Sent" in listing
    [entry] = entries(db_session, citizen, "correction_requested")
    body = entry.body.decode() if isinstance(entry.body, bytes) else str(entry.body)
    assert "TAN AH KAU" not in body and "passport" not in body and row.id in body


def test_a_double_submit_files_one_request(client, db_session, citizen):
    flow.sign_in(client, citizen.id)
    data = {**form_of(client), **answers()}
    first, second = client.post(FORM, data=data), client.post(FORM, data=data)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert "You had already sent this request" in client.get(second.headers["Location"]).text
    assert len(requests_of(db_session, citizen)) == 1
    assert len(entries(db_session, citizen, "correction_requested")) == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"note": "n" * 1001}, "The note must be 1000 characters or fewer"),
        ({"what": ""}, "Say what is wrong"),
        ({"correct_value": "x" * 501}, "The correct value must be 500 characters or fewer"),
        ({"note": "n" * 30_000}, "The note must be 1000 characters or fewer"),
    ],
)
def test_bad_answers_get_a_clear_page_and_nothing_is_written(client, db_session, citizen, changes, message):
    flow.sign_in(client, citizen.id)
    response = client.post(FORM, data={**form_of(client), **answers(**changes)})
    assert response.status_code == 400 and message in response.text and "There is a problem" in response.text
    assert requests_of(db_session, citizen) == []
    assert entries(db_session, citizen, "correction_requested") == []


def test_a_forged_or_tampered_post_is_refused(client, db_session, citizen):
    flow.sign_in(client, citizen.id)
    data = {**form_of(client), **answers()}
    forged = client.post(FORM, data={**data, "csrf_token": "forged"})
    assert forged.status_code == 400 and "form" in forged.text.lower()
    extra = client.post(FORM, data={**data, "citizen_id": "someone"})
    assert extra.status_code == 400 and "The form could not be used" in extra.text
    no_token = client.post(FORM, data={k: v for k, v in data.items() if k != "submission"})
    assert no_token.status_code == 400
    assert requests_of(db_session, citizen) == []


def test_one_citizen_never_reads_another_citizens_request_or_field(client, db_session, runtime, citizen):
    flow.sign_in(client, citizen.id)
    client.post(FORM, data={**form_of(client), **answers(note="PRIVATE NOTE")})
    [theirs] = requests_of(db_session, citizen)
    other = make_citizen(db_session, runtime.vault)
    db_session.commit()
    flow.sign_in(client, other.id)
    page = client.get(f"/citizen/corrections/{theirs.id}")
    assert page.status_code == 404 and "PRIVATE NOTE" not in page.text
    assert theirs.id not in client.get("/citizen/corrections").text
    # A field the other citizen holds no agency value of (their name was never fetched): 404.
    assert client.get(FORM).status_code == 404
    assert client.get("/citizen/profile/email/wrong").status_code == 404
    assert client.get("/citizen/corrections/not-a-uuid").status_code == 404
    assert client.get("/citizen/profile/" + "x" * 100 + "/wrong").status_code == 404


@pytest.fixture
def enrolled(db_session, runtime):
    uinfin = fresh_uinfin()
    person = make_citizen(db_session, runtime.vault, uinfin=uinfin)
    with_name(db_session, runtime, person)
    enrolment = enrol(db_session, vault=runtime.vault, uinfin=uinfin, password=PASSWORD, now=utcnow())
    db_session.commit()
    return person, uinfin, pyotp.TOTP(enrolment.totp_secret)


def age_sessions(db_session, citizen_id, minutes):
    db_session.execute(
        update(WebSession)
        .where(WebSession.subject == citizen_id, WebSession.role == "citizen")
        .values(authenticated_at=utcnow() - dt.timedelta(minutes=minutes))
    )
    db_session.commit()


def csrf(client):
    return CSRF_INPUT.search(client.get("/citizen/profile").text).group(1)


def test_show_right_after_sign_in_reveals_the_id_and_is_audited(client, db_session, enrolled):
    person, uinfin, _totp = enrolled
    flow.sign_in(client, person.id)
    assert uinfin not in client.get("/citizen/profile").text
    shown = client.post("/citizen/profile/national-id", data={"csrf_token": csrf(client)})
    assert shown.status_code == 200 and uinfin in shown.text
    assert shown.headers["Cache-Control"] == "no-store"
    # In place: "My profile" itself, the row in full with "Hide", its group open, no "Show".
    assert '<h1 class="govuk-heading-l">My profile</h1>' in shown.text
    row = shown.text.split('id="field-uinfin"', 1)[1].split("</dd>", 1)[0]
    assert uinfin in row and 'id="hide-national-id"' in row and 'id="show-national-id"' not in row
    assert re.search(r'<details[^>]*id="agency-identity"[^>]*\bopen\b', shown.text)
    [entry] = entries(db_session, person, "citizen_reveal")
    assert uinfin not in str(entry.body)
    # Loading it again (the profile, or this address by GET) hides it; nothing more is audited.
    again = client.get("/citizen/profile/national-id")
    assert again.status_code == 303 and again.headers["Location"].endswith("/citizen/profile#field-uinfin")
    hidden = client.get("/citizen/profile").text
    assert uinfin not in hidden and 'id="show-national-id"' in hidden
    assert 'id="hide-national-id"' not in hidden
    assert len(entries(db_session, person, "citizen_reveal")) == 1


def test_show_after_five_minutes_asks_for_a_fresh_code(client, db_session, enrolled):
    person, uinfin, totp = enrolled
    flow.sign_in(client, person.id)
    age_sessions(db_session, person.id, minutes=6)
    token = csrf(client)
    asked = client.post("/citizen/profile/national-id", data={"csrf_token": token})
    assert asked.status_code == 200 and "Confirm it is you" in asked.text and uinfin not in asked.text
    wrong_code = f"{(int(totp.now()) + 1) % 1_000_000:06d}"
    wrong = client.post(CONFIRM, data={"csrf_token": token, "code": wrong_code})
    assert wrong.status_code == 400 and "The code is not correct" in wrong.text and uinfin not in wrong.text
    empty = client.post(CONFIRM, data={"csrf_token": token, "code": "12"})
    assert empty.status_code == 400 and "Enter the 6-digit code" in empty.text
    assert entries(db_session, person, "citizen_reveal") == []
    shown = client.post(CONFIRM, data={"csrf_token": token, "code": totp.now()})
    assert shown.status_code == 200 and uinfin in shown.text
    again = client.post(CONFIRM, data={"csrf_token": token, "code": totp.now()})
    assert again.status_code == 400  # each code works once
    # The step-up counts as a fresh authentication: 'Show' works again without a code.
    assert uinfin in client.post("/citizen/profile/national-id", data={"csrf_token": token}).text
    details = [entry.body for entry in entries(db_session, person, "citizen_reveal")]
    assert len(details) == 2


def test_a_step_up_rotates_the_session_token(app, client, db_session, enrolled):
    """The step-up raises what the session may do, so it goes on under a new token: a copy of the
    cookie taken before it (seen, or planted) is signed out, and the session keeps its absolute
    expiry (a step-up does not extend a session's life)."""
    person, uinfin, totp = enrolled
    flow.sign_in(client, person.id)
    age_sessions(db_session, person.id, minutes=6)
    before = db_session.scalars(
        select(WebSession).where(WebSession.subject == person.id, WebSession.revoked_at.is_(None))
    ).one()
    copy = app.test_client()
    copy.set_cookie("session", client.get_cookie("session").value)
    assert copy.get("/citizen/profile").status_code == 200
    token = csrf(client)
    client.post("/citizen/profile/national-id", data={"csrf_token": token})
    assert uinfin in client.post(CONFIRM, data={"csrf_token": token, "code": totp.now()}).text
    db_session.expire_all()
    old = db_session.get(WebSession, before.id)
    assert old.revoked_reason == "reauthenticated"
    now_live = db_session.scalars(
        select(WebSession).where(WebSession.subject == person.id, WebSession.revoked_at.is_(None))
    ).one()
    assert now_live.id != before.id and now_live.expires_at == old.expires_at
    assert client.get("/citizen/profile").status_code == 200, "the citizen's browser goes on"
    assert copy.get("/citizen/profile").status_code != 200, "the copy from before the step-up is out"


def test_a_forged_show_is_refused(client, db_session, enrolled):
    person, uinfin, totp = enrolled
    flow.sign_in(client, person.id)
    forged = client.post("/citizen/profile/national-id", data={"csrf_token": "forged"})
    assert forged.status_code == 400 and uinfin not in forged.text
    forged_code = client.post(CONFIRM, data={"code": totp.now()})
    assert forged_code.status_code == 400 and uinfin not in forged_code.text
    assert entries(db_session, person, "citizen_reveal") == []


def test_the_download_holds_the_citizens_own_requests_only(client, db_session, runtime, citizen):
    flow.sign_in(client, citizen.id)
    client.post(FORM, data={**form_of(client), **answers(note="MY OWN NOTE")})
    other = make_citizen(db_session, runtime.vault)
    with_name(db_session, runtime, other)
    db_session.commit()
    record = json.loads(client.get("/citizen/download/record.json").data)
    [mine] = record["corrections"]
    assert (mine["attribute"], mine["status"], mine["note"]) == ("name", "sent", "MY OWN NOTE")
    flow.sign_in(client, other.id)
    assert json.loads(client.get("/citizen/download/record.json").data)["corrections"] == []


def test_step_up_codes_are_limited_like_sign_in(base_config, engine, sessions, db_session, enrolled):
    person, uinfin, totp = enrolled
    application = create_app(base_config.replace(sign_in_account_limit=2), engine=engine)
    application.extensions["consentry"].use_sessions(sessions)
    try:
        client = application.test_client()
        flow.sign_in(client, person.id)
        age_sessions(db_session, person.id, minutes=6)
        token = csrf(client)
        wrong = f"{(int(totp.now()) + 1) % 1_000_000:06d}"
        data = {"csrf_token": token, "code": wrong}
        statuses = [client.post(CONFIRM, data=data).status_code for _ in range(2)]
        assert statuses == [400, 400]
        limited = client.post(CONFIRM, data={"csrf_token": token, "code": totp.now()})
        assert limited.status_code == 429 and uinfin not in limited.text
        assert entries(db_session, person, "citizen_reveal") == []
    finally:
        application.extensions["consentry"].close()
