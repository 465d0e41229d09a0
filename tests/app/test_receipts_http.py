"""Consent receipts over HTTP: the citizen's receipt page and download (their own only), the links
from "Who has my data" and "My consents", the published receipt keys, and the agency apps'
endpoint (authenticated by a client assertion, only the app's own events)."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time

import pytest
from joserfc import jwt

from consent.apps import find_purpose, get_app
from consent.consents import grant_consent
from consent.receipt_verify import verify
from tests.consent.test_receipts import disclosed, granted
from tests.factories import make_citizen
from tests.oauth import flow
from tests.oauth.flow import CLIENT_ID, AgencyKeys

RECEIPTS_URL = "http://localhost/api/agency-apps/receipts"
KEYS = "/.well-known/receipt-keys"


@pytest.fixture
def release(db_session, citizen, now) -> int:
    """A release to the housing app, under a consent given for this request only; its seq."""
    consent, _ = granted(db_session, citizen, now=now)
    entry = disclosed(db_session, citizen, consent, now=now + dt.timedelta(seconds=1))
    db_session.commit()
    return entry.seq


def assertion(keys: AgencyKeys, *, client_id: str = CLIENT_ID, aud: str = RECEIPTS_URL, **claims) -> str:
    now = int(time.time())
    body = {"iss": client_id, "sub": client_id, "aud": aud, "jti": secrets.token_urlsafe(16)}
    body |= {"iat": now, "exp": now + 60, **claims}
    return jwt.encode({"alg": "ES256", "typ": "JWT", "kid": keys.signing.kid}, body, keys.signing)


def fetch(client, seq: int, form: dict[str, str]):
    return client.post(f"/api/agency-apps/receipts/{seq}", data=form)


def app_form(keys: AgencyKeys, **overrides) -> dict[str, str]:
    form = {
        "client_id": CLIENT_ID,
        "client_assertion_type": flow.ASSERTION_TYPE,
        "client_assertion": assertion(keys),
    }
    return {k: v for k, v in (form | overrides).items() if v is not None}


# --- the citizen ------------------------------------------------------------------------------


def test_the_receipt_page_reads_the_receipt_in_words(client, citizen, release):
    flow.sign_in(client, citizen.id)
    page = client.get(f"/citizen/receipts/{release}")
    assert page.status_code == 200, page.text
    text = page.text
    assert "Housing grant application received your details" in text
    for words in (
        "Housing Board",
        "To assess your housing grant application.",
        "Details they received",
        "You chose not to share",
        "This release only",
        "The service did not say",
        "urn:consentry:receipt:",
        "Download receipt (JSON)",
        f"python -m consent.receipt_verify consent-receipt-{release}.json --jwks http://localhost{KEYS}",
    ):
        assert words in text, words
    assert f'href="/citizen/receipts/{release}/download"' in text
    assert '<a class="govuk-link" href="/citizen/consents">Go to my consents</a>' in text


def test_the_download_verifies_against_the_published_receipt_keys(client, citizen, release):
    flow.sign_in(client, citizen.id)
    response = client.get(f"/citizen/receipts/{release}/download")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == f'attachment; filename="consent-receipt-{release}.json"'
    assert response.headers["Cache-Control"] == "no-store"
    document = response.get_json()
    assert set(document) == {"receipt", "jws"}

    keys = client.get(KEYS)
    assert keys.status_code == 200 and "max-age" in keys.headers["Cache-Control"]
    receipt, kid = verify(response.text, keys.get_json())
    assert receipt == document["receipt"] and receipt["audit"]["seq"] == release
    assert kid.startswith("receipt-")
    token_kids = {k["kid"] for k in client.get("/.well-known/keys.json").get_json()["keys"]}
    assert kid not in token_kids  # the OAuth JWKS never carries receipt keys


def test_another_citizens_receipt_is_a_404_that_says_nothing(client, db_session, runtime, release):
    other = make_citizen(db_session, runtime.vault)
    db_session.commit()
    flow.sign_in(client, other.id)
    for path in (
        f"/citizen/receipts/{release}",
        f"/citizen/receipts/{release}/download",
        "/citizen/receipts/999999",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "Housing" not in response.text and "urn:consentry" not in response.text


def test_strangers_are_sent_to_sign_in(client, release):
    for path in (f"/citizen/receipts/{release}", f"/citizen/receipts/{release}/download"):
        response = client.get(path)
        assert response.status_code == 303
        assert response.headers["Location"].startswith("/citizen/sign-in?next=")


def test_history_and_consents_link_to_each_receipt(client, db_session, citizen, now):
    consent, granted_entry = granted(db_session, citizen, now=now)
    db_session.commit()
    flow.sign_in(client, citizen.id)
    assert f'href="/citizen/receipts/{granted_entry.seq}"' in client.get("/citizen/history").text

    consents = client.get("/citizen/consents").text
    link = f"/citizen/consents/{consent.id}/receipt"
    assert f'href="{link}"' in consents
    response = client.get(link)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/citizen/receipts/{granted_entry.seq}"
    page = client.get(response.headers["Location"])
    assert "You agreed to share your details with Housing grant application" in page.text


def test_a_consent_of_another_citizen_has_no_receipt_link_to_follow(
    client, db_session, runtime, citizen, now
):
    consent, _ = granted(db_session, citizen, now=now)
    other = make_citizen(db_session, runtime.vault)
    db_session.commit()
    flow.sign_in(client, other.id)
    assert client.get(f"/citizen/consents/{consent.id}/receipt").status_code == 404


# --- the agency app -----------------------------------------------------------------------------


def test_an_app_fetches_the_receipt_of_its_own_release_the_same_bytes_the_citizen_gets(
    client, citizen, keys, release
):
    response = fetch(client, release, app_form(keys))
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    receipt, _kid = verify(response.text, client.get(KEYS).get_json())
    assert receipt["pii_controller"]["app_id"] == CLIENT_ID

    flow.sign_in(client, citizen.id)
    download = client.get(f"/citizen/receipts/{release}/download").get_json()
    assert download["jws"] == response.get_json()["jws"]  # both sides hold the same proof


def test_an_assertion_naming_this_receipts_url_is_accepted_too(client, keys, release):
    form = app_form(keys, client_assertion=assertion(keys, aud=f"{RECEIPTS_URL}/{release}"))
    assert fetch(client, release, form).status_code == 200


def test_another_apps_receipt_is_a_404(client, db_session, runtime, release):
    other_keys = AgencyKeys()
    flow.setup_app(db_session, runtime, other_keys, client_id="other-grant-app")
    form = app_form(other_keys, client_id="other-grant-app")
    form["client_assertion"] = assertion(other_keys, client_id="other-grant-app")
    response = fetch(client, release, form)
    assert response.status_code == 404
    assert "receipt" not in response.get_json()


@pytest.mark.parametrize(
    "overrides",
    [
        {"client_assertion": None, "client_assertion_type": None},
        {"client_assertion": "not-a-jwt"},
        {"client_assertion_type": "urn:other"},
        {"client_id": "no-such-app"},
    ],
)
def test_without_a_valid_client_assertion_it_is_401(client, keys, release, overrides):
    response = fetch(client, release, app_form(keys, **overrides))
    assert response.status_code == 401, response.text
    assert response.get_json()["error"] == "invalid_client"


def test_an_assertion_for_the_token_endpoint_or_replayed_is_refused(client, keys, release):
    token_assertion = assertion(keys, aud=flow.TOKEN_URL)
    assert fetch(client, release, app_form(keys, client_assertion=token_assertion)).status_code == 401
    form = app_form(keys)
    assert fetch(client, release, form).status_code == 200
    assert fetch(client, release, form).status_code == 401  # the jti was used


def test_a_get_or_a_json_body_is_not_how_to_ask(client, keys, release):
    assert client.get(f"/api/agency-apps/receipts/{release}").status_code == 405
    response = client.post(f"/api/agency-apps/receipts/{release}", data=json.dumps(app_form(keys)))
    assert response.status_code in (400, 401)


def test_a_consent_recorded_nowhere_in_the_log_has_no_receipt(client, db_session, citizen, now):
    bare = grant_consent(  # as the demo's seed makes one: no consent_granted entry
        db_session,
        citizen_id=citizen.id,
        app=get_app(db_session, CLIENT_ID),
        purpose=find_purpose(db_session, CLIENT_ID, "grant"),
        requested=["uinfin", "name"],
        approved=["uinfin", "name"],
        remember_for=None,
        now=now,
    )
    granted(db_session, citizen, now=now)  # another consent's entry, at the same moment
    db_session.commit()
    flow.sign_in(client, citizen.id)
    assert client.get(f"/citizen/consents/{bare.id}/receipt").status_code == 404


def test_the_jurisdiction_comes_from_receipt_jurisdiction(base_config, engine, sessions, citizen, release):
    from app import create_app
    from app.config import Config

    assert Config.from_env({"RECEIPT_JURISDICTION": " MY "}).receipt_jurisdiction == "MY"
    application = create_app(base_config.replace(receipt_jurisdiction="MY"), engine=engine)
    application.extensions["consentry"].use_sessions(sessions)
    try:
        client = application.test_client()
        flow.sign_in(client, citizen.id)
        receipt = client.get(f"/citizen/receipts/{release}/download").get_json()["receipt"]
        assert receipt["jurisdiction"] == "MY"
    finally:
        application.extensions["consentry"].close()


def test_asking_by_token_needs_a_token_of_this_app(client, keys, release):
    form = app_form(keys, client_assertion=assertion(keys), token_jti="no-such-token")
    assert client.post("/api/agency-apps/receipts", data=form).status_code == 404
    form = app_form(keys, client_assertion=assertion(keys))
    response = client.post("/api/agency-apps/receipts", data=form)
    assert response.status_code == 400
    assert "token_jti" in response.get_json()["errors"]
    assert client.post("/api/agency-apps/receipts", data={"token_jti": "x"}).status_code == 401
