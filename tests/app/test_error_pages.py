"""Errors a person's browser meets are pages in plain words, never JSON (issue 15, item 5): each
refused sign-in request at /com/v4/authorize, /fapi/auth and /consent/<id>, the 404/405/413/429/
500/503 pages, and the service status page. Machine endpoints keep their JSON."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlencode

import pytest
from sqlalchemy import update

from consent.apps import set_disabled
from consent.grant_models import AuthorizationRequest
from core.errors import ValidationFailed
from tests.fapi import flow as v5
from tests.oauth import flow
from tests.oauth.flow import CLIENT_ID, REDIRECT_URI

APP_NAME = "Housing grant application"
HEADING = re.compile(r'<h1 class="govuk-heading-l">\s*(.*?)\s*</h1>', re.S)
# What a person must never be shown: OAuth error codes, JSON bodies, stack traces.
RAW = (
    "invalid_client",
    "invalid_request",
    "invalid_request_uri",
    "unauthorized_client",
    "not_found",
    "server_error",
    "error_description",
    '"error"',
    "Traceback",
)

UNKNOWN_SERVICE = "We do not recognise the service you came from"
SERVICE_DISABLED = "This service cannot use Consentry at the moment"
RETURN_ADDRESS = "We cannot send you back to the service you came from"
INVALID_LINK = "There is a problem with the link you followed"
REQUEST_EXPIRED = "Your request to share information has timed out"
REQUEST_ANSWERED = "You have already answered this request"


def assert_page(response, status: int, heading: str | None = None) -> str:
    """An HTML page for a person: the status, no redirect, no JSON, no raw error codes; returns
    the page's text."""
    assert response.status_code == status, response.text[:500]
    assert response.mimetype == "text/html"
    assert "Location" not in response.headers
    assert response.get_json(silent=True) is None
    text = response.text
    for raw in RAW:
        assert raw not in text, raw
    if heading is not None:
        found = HEADING.search(text)
        assert found and found.group(1) == heading, found and found.group(1)
        assert f"{heading} \N{EN DASH} Consentry</title>" in text
    return text


# --- MyInfo v4: /com/v4/authorize --------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "status", "heading"),
    [
        ({"client_id": "nobody-app"}, 404, UNKNOWN_SERVICE),
        ({"client_id": None}, 400, INVALID_LINK),
        ({"client_id": ""}, 400, INVALID_LINK),
        ({"redirect_uri": REDIRECT_URI + "/x"}, 400, RETURN_ADDRESS),
        ({"redirect_uri": "https://evil.example/cb"}, 400, RETURN_ADDRESS),
        ({"redirect_uri": "not a web address"}, 400, RETURN_ADDRESS),
        ({"redirect_uri": None}, 400, RETURN_ADDRESS),
        ({"state": "x" * 5000}, 400, INVALID_LINK),
    ],
    ids=[
        "unknown client",
        "no client_id",
        "empty client_id",
        "unregistered redirect_uri",
        "foreign redirect_uri",
        "malformed redirect_uri",
        "no redirect_uri",
        "parameter too long",
    ],
)
def test_v4_authorize_refusals_are_pages(client, agency_app, verifier, overrides, status, heading):
    text = assert_page(flow.authorize(client, verifier, **overrides), status, heading)
    assert "None of your information has been shared." in text
    assert "Go back to the service you came from and start again" in text


def test_v4_a_repeated_parameter_is_a_page(client, agency_app, verifier):
    query = urlencode(flow.authorize_params(verifier)) + "&client_id=" + CLIENT_ID
    assert_page(client.get("/com/v4/authorize?" + query), 400, INVALID_LINK)


def test_v4_a_disabled_app_is_a_page_naming_it(client, db_session, agency_app, verifier):
    set_disabled(db_session, client_id=CLIENT_ID, disabled=True, now=flow._now())
    db_session.commit()
    text = assert_page(flow.authorize(client, verifier), 404, SERVICE_DISABLED)
    assert APP_NAME in text


def test_v4_a_page_even_when_the_browser_prefers_json(client, agency_app, verifier):
    query = urlencode(flow.authorize_params(verifier, client_id="nobody-app"))
    response = client.get("/com/v4/authorize?" + query, headers={"Accept": "application/json"})
    assert_page(response, 404, UNKNOWN_SERVICE)


def test_v4_a_nul_in_the_link_is_a_page(client, agency_app, verifier):
    query = urlencode(flow.authorize_params(verifier, state="a\x00b"))
    assert_page(client.get("/com/v4/authorize?" + query), 400, INVALID_LINK)
    assert_page(client.get("/fapi/auth?client_id=a%00b"), 400, INVALID_LINK)


def test_v4_errors_with_a_trusted_client_and_return_address_still_go_back_to_the_app(
    client, agency_app, verifier
):
    answer = flow.redirect_params(flow.authorize(client, verifier, code_challenge_method="plain", state="s1"))
    assert answer["error"] == "invalid_request" and answer["state"] == "s1"
    assert answer["error_description"] and answer["iss"]


# --- Myinfo v5: /fapi/auth ------------------------------------------------------------------


@pytest.fixture
def v5_app(db_session, runtime, keys):
    return v5.setup_app(db_session, runtime, keys)


@pytest.mark.parametrize(
    ("query", "heading"),
    [
        ({}, INVALID_LINK),
        ({"client_id": CLIENT_ID}, INVALID_LINK),
        ({"client_id": CLIENT_ID, "request_uri": "urn:ietf:params:oauth:request_uri:nope"}, INVALID_LINK),
        ({"client_id": CLIENT_ID, "request_uri": "https://evil.example/request"}, INVALID_LINK),
        ({"client_id": "nobody-app", "request_uri": "urn:ietf:params:oauth:request_uri:x"}, UNKNOWN_SERVICE),
        ({"request_uri": "urn:ietf:params:oauth:request_uri:x"}, INVALID_LINK),
    ],
    ids=[
        "nothing",
        "no request_uri",
        "unknown request_uri",
        "malformed request_uri",
        "unknown client",
        "no client",
    ],
)
def test_v5_auth_refusals_are_pages(client, v5_app, query, heading):
    assert_page(client.get("/fapi/auth?" + urlencode(query)), 400, heading)


def test_v5_a_repeated_parameter_is_a_page(client, v5_app):
    assert_page(client.get(f"/fapi/auth?client_id={CLIENT_ID}&client_id={CLIENT_ID}"), 400, INVALID_LINK)


def test_v5_a_disabled_app_is_a_page_naming_it(client, db_session, v5_app, keys, verifier, dpop_key):
    request_uri = v5.push(client, keys, verifier, dpop_key)
    v5_app.disabled = True
    db_session.commit()
    text = assert_page(v5.authorize(client, request_uri), 400, SERVICE_DISABLED)
    assert APP_NAME in text


def test_v5_an_app_not_registered_for_v5_is_a_page(client, db_session, runtime, agency_app):
    query = {"client_id": CLIENT_ID, "request_uri": "urn:ietf:params:oauth:request_uri:x"}
    assert_page(client.get("/fapi/auth?" + urlencode(query)), 400, UNKNOWN_SERVICE)


def test_v5_an_expired_request_still_goes_back_to_the_app(
    client, db_session, v5_app, keys, verifier, dpop_key
):
    request_uri = v5.push(client, keys, verifier, dpop_key, state="s5")
    db_session.execute(
        update(AuthorizationRequest).values(
            request_uri_expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        )
    )
    db_session.commit()
    answer = flow.redirect_params(v5.authorize(client, request_uri))
    assert answer["error"] == "invalid_request_uri" and answer["state"] == "s5" and answer["iss"]


# --- the consent screen: /consent/<id> ----------------------------------------------------------


def test_consent_screen_unknown_request_is_a_page(client):
    assert_page(client.get("/consent/not-a-real-request-id-at-all"), 404, INVALID_LINK)
    assert_page(client.get("/consent/" + "x" * 65), 404, INVALID_LINK)


def test_consent_screen_timed_out_request_is_a_page_naming_the_app(client, db_session, agency_app, verifier):
    path = flow.consent_path(flow.authorize(client, verifier))
    db_session.execute(
        update(AuthorizationRequest).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    )
    db_session.commit()
    text = assert_page(client.get(path), 404, REQUEST_EXPIRED)
    assert f"Go back to {APP_NAME} and start again" in text


def test_consent_screen_answered_request_is_a_page(client, citizen, verifier):
    flow.sign_in(client, citizen.id)
    path = flow.consent_path(flow.authorize(client, verifier))
    assert flow.redirect_params(flow.decide(client, path, decision="decline"))["error"] == "access_denied"
    text = assert_page(client.get(path), 404, REQUEST_ANSWERED)
    assert APP_NAME in text and "None of your information has been shared" not in text


def test_consent_screen_answered_in_another_tab_is_a_page(client, citizen, verifier):
    """Two tabs on one request: the second answer finds it closed."""
    flow.sign_in(client, citizen.id)
    path = flow.consent_path(flow.authorize(client, verifier))
    page = client.get(path)
    token = flow.CSRF_INPUT.search(page.text).group(1)
    assert flow.redirect_params(flow.decide(client, path, decision="decline"))["error"] == "access_denied"
    form = {"decision": "approve", "remember": "request", "csrf_token": token}
    assert_page(client.post(path, data=form), 404, REQUEST_ANSWERED)


# --- pages for every other error --------------------------------------------------------------


def test_not_found_is_a_page_not_found(client):
    text = assert_page(client.get("/no/such/page"), 404, "Page not found")
    assert "If you typed the web address, check it is correct." in text
    assert "If you pasted the web address, check you copied the entire address." in text


def test_method_not_allowed_is_a_page_with_the_allow_header(client):
    response = client.get("/citizen/sign-out")
    assert_page(response, 405, "This page cannot be opened directly")
    assert "POST" in response.headers["Allow"]


def test_too_large_is_a_page(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 16
    response = client.post("/citizen/sign-in", data={"uinfin": "x" * 64})
    assert_page(response, 413, "What you sent is too large")


def test_an_expired_form_is_a_page(client):
    text = assert_page(
        client.post("/citizen/sign-in", data={"uinfin": "S1234567D"}), 400, "This form has expired"
    )
    assert "The form expired or was not sent by this site" in text


def _failing_routes(app) -> None:
    from werkzeug.exceptions import ServiceUnavailable, TooManyRequests

    from app.security import public

    def boom():
        raise RuntimeError("secret internal detail")

    def busy():
        raise TooManyRequests()

    def down():
        raise ServiceUnavailable("the database at 10.0.0.7 refused")

    def invalid():
        raise ValidationFailed("the form has mistakes", errors={"Date of birth": ["Enter a real date"]})

    views = {"boom": boom, "busy": busy, "down": down, "invalid": invalid}
    for name, view in views.items():
        app.add_url_rule(f"/test-{name}", name, public(view))


def test_server_errors_are_pages_with_a_reference(app, client):
    _failing_routes(app)
    response = client.get("/test-boom")
    text = assert_page(response, 500, "Sorry, there is a problem with the service")
    assert "Try again later." in text and "secret internal detail" not in text
    assert f"Reference: {response.headers['X-Request-Id']}" in text


def test_a_refused_form_is_a_page_listing_the_problems(app, client):
    _failing_routes(app)
    text = assert_page(client.get("/test-invalid"), 400, "Sorry, we could not do that")
    assert "There is a problem" in text and "Date of birth: Enter a real date" in text
    assert "<title>Error: " in text


def test_too_many_requests_is_a_page(app, client):
    _failing_routes(app)
    assert_page(client.get("/test-busy"), 429, "Too many attempts")


def test_service_unavailable_is_a_page(app, client):
    _failing_routes(app)
    text = assert_page(client.get("/test-down"), 503, "Sorry, the service is unavailable")
    assert "Try again in a few minutes." in text and "10.0.0.7" not in text


# --- machine endpoints keep their JSON ----------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status", "error"),
    [
        ("get", "/com/v4/token", 405, "method_not_allowed"),
        ("get", "/com/v4/nothing-here", 404, "not_found"),
        ("get", "/api/nothing-here", 404, "not_found"),
        ("get", "/fapi/par", 405, "method_not_allowed"),
        ("get", "/fapi/token", 405, "method_not_allowed"),
    ],
)
def test_machine_endpoints_still_answer_json(client, method, path, status, error):
    response = getattr(client, method)(path)
    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert response.get_json()["error"] == error


def test_a_caller_asking_for_json_gets_json(client):
    response = client.get("/no/such/page", headers={"Accept": "application/json"})
    assert response.status_code == 404 and response.get_json()["error"] == "not_found"


def test_token_and_person_errors_are_unchanged(client, agency_app):
    token = client.post("/com/v4/token", data={"grant_type": "authorization_code"})
    assert token.mimetype == "application/json" and token.get_json()["error"]
    person = client.get("/com/v4/person/someone")
    assert person.status_code == 401 and person.get_json()["error"]


# --- service status ---------------------------------------------------------------------------


def test_the_footer_links_to_the_status_page_for_people(client):
    page = client.get("/")
    assert 'href="/status">Service status</a>' in page.text
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/readyz").mimetype == "application/json"


def test_status_page_says_the_service_is_working(client, runtime):
    response = client.get("/status")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert response.headers["Cache-Control"] == "no-store"
    text = response.text
    assert HEADING.search(text).group(1) == "Service status"
    assert "Consentry is working normally." in text
    assert "Every agency Consentry gets information from is answering." in text
    for agency in runtime.catalogue.agencies.values():
        if agency.code in runtime.connectors.connectors:
            assert agency.name in text
    for internal in ("redis", "platform_keys", "audit_key", "database", "circuit", "breaker"):
        assert internal not in text.lower(), internal


def test_status_page_names_an_agency_that_is_not_answering(app, client):
    rt = app.extensions["consentry"]
    _code, connector = next(iter(rt.connectors.connectors.items()))
    for _ in range(connector.breaker.threshold):
        connector.breaker.record_failure()
    try:
        text = client.get("/status").text
    finally:
        connector.breaker.record_success()
    assert "Some agencies are not answering at the moment." in text
    assert "Not available" in text
    assert "Consentry is working normally." in text


def test_status_page_says_when_the_service_is_not_working(client, monkeypatch):
    from app import site

    def down(_rt):
        raise OSError("connection refused to 10.0.0.5")

    monkeypatch.setattr(site, "_database", down)
    response = client.get("/status")
    assert response.status_code == 200
    assert "Sorry, Consentry is not working at the moment." in response.text
    assert "10.0.0.5" not in response.text
