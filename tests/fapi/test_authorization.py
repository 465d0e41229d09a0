"""The authorization endpoint (v5 spec §4): only a pushed request, presented by the client that
pushed it within 60 s and before the citizen answered; then the shared sign-in and consent screen,
answering with 303 and `code`, `state`, `iss` (RFC 9207), errors with `iss` too."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from sqlalchemy import update

from consent.grant_models import AuthorizationRequest
from consent.grants import pkce_challenge
from tests.fapi import flow
from tests.fapi.flow import ISSUER
from tests.oauth import flow as v4
from tests.oauth.flow import REDIRECT_URI, AgencyKeys


def assert_page(response, status: int = 400) -> None:
    """Refused to the citizen's face: an HTML page, no redirect to anyone."""
    assert response.status_code == status, response.text
    assert "Location" not in response.headers
    assert response.mimetype == "text/html"


def test_a_request_that_did_not_come_through_par_is_refused(client, agency_app, verifier):
    v4_style = {
        "client_id": v4.CLIENT_ID,
        "response_type": "code",
        "scope": flow.SCOPE,
        "redirect_uri": REDIRECT_URI,
        "code_challenge": pkce_challenge(verifier),
        "code_challenge_method": "S256",
        "state": "abc",
        "nonce": "def",
    }
    assert_page(client.get("/fapi/auth?" + urlencode(v4_style)))


def test_unknown_or_malformed_request_uris_get_a_page(client, agency_app):
    assert_page(flow.authorize(client, "urn:ietf:params:oauth:request_uri:nope"))
    assert_page(flow.authorize(client, "https://evil.example/request"))
    assert_page(client.get("/fapi/auth?client_id=" + v4.CLIENT_ID))


def test_a_request_uri_presented_by_another_client_gets_a_page(
    client, db_session, runtime, agency_app, keys, verifier, dpop_key
):
    flow.setup_app(db_session, runtime, AgencyKeys(), client_id="other-fapi-app")
    request_uri = flow.push(client, keys, verifier, dpop_key)
    assert_page(flow.authorize(client, request_uri, client_id="other-fapi-app"))
    assert_page(flow.authorize(client, request_uri, client_id=""))
    assert v4.consent_path(flow.authorize(client, request_uri)), "still good for its own client"


def test_only_the_pushed_parameters_count(client, citizen, keys, verifier, dpop_key):
    v4.sign_in(client, citizen.id)
    request_uri = flow.push(client, keys, verifier, dpop_key, state="pushed-state")
    extra = {"redirect_uri": "https://evil.example/cb", "scope": "openid vehicles", "state": "forged"}
    path = v4.consent_path(flow.authorize(client, request_uri, **extra))
    response = v4.decide(client, path, attributes=[])
    assert response.headers["Location"].startswith(REDIRECT_URI + "?code=")
    assert v4.redirect_params(response)["state"] == "pushed-state"


def test_a_reload_before_the_answer_is_fine_but_a_reuse_after_the_code_is_refused(
    client, citizen, keys, verifier, dpop_key
):
    v4.sign_in(client, citizen.id)
    request_uri = flow.push(client, keys, verifier, dpop_key, state="s1")
    first = v4.consent_path(flow.authorize(client, request_uri))
    assert v4.consent_path(flow.authorize(client, request_uri)) == first, "a preloader cannot burn it"
    assert "code" in v4.redirect_params(v4.decide(client, first, attributes=[]))
    again = v4.redirect_params(flow.authorize(client, request_uri))
    assert again["error"] == "invalid_request_uri" and again["state"] == "s1" and again["iss"] == ISSUER
    assert "code" not in again


def test_an_expired_request_uri_is_refused_with_iss(client, db_session, citizen, keys, verifier, dpop_key):
    request_uri = flow.push(client, keys, verifier, dpop_key, state="s2")
    db_session.execute(
        update(AuthorizationRequest).values(
            request_uri_expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        )
    )
    db_session.commit()
    answer = v4.redirect_params(flow.authorize(client, request_uri))
    assert answer == {
        "error": "invalid_request_uri",
        "error_description": answer["error_description"],
        "state": "s2",
        "iss": ISSUER,
    }


def test_the_consent_page_outlives_the_request_uri(client, db_session, citizen, keys, verifier, dpop_key):
    """60 s to reach us; the citizen then has the consent step's own time to sign in and answer."""
    v4.sign_in(client, citizen.id)
    path = v4.consent_path(flow.authorize(client, flow.push(client, keys, verifier, dpop_key)))
    db_session.execute(
        update(AuthorizationRequest).values(
            request_uri_expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        )
    )
    db_session.commit()
    assert "code" in v4.redirect_params(v4.decide(client, path, attributes=[]))


def test_the_consent_step_needs_sign_in_and_shows_the_app_and_purpose(
    client, citizen, keys, verifier, dpop_key
):
    path = v4.consent_path(flow.authorize(client, flow.push(client, keys, verifier, dpop_key)))
    anonymous = client.get(path)
    assert anonymous.status_code in (302, 303) and "sign-in" in anonymous.headers["Location"]
    v4.sign_in(client, citizen.id)
    page = client.get(path)
    assert page.status_code == 200
    assert "Housing grant application" in page.text
    assert "To assess your housing grant application." in page.text


def test_declining_returns_access_denied_with_state_and_iss(client, citizen, keys, verifier, dpop_key):
    v4.sign_in(client, citizen.id)
    request_uri = flow.push(client, keys, verifier, dpop_key, state="s3")
    path = v4.consent_path(flow.authorize(client, request_uri))
    answer = v4.redirect_params(v4.decide(client, path, decision="decline"))
    assert answer["error"] == "access_denied" and answer["state"] == "s3" and answer["iss"] == ISSUER
    assert v4.redirect_params(flow.authorize(client, request_uri))["error"] == "invalid_request_uri"


def test_a_remembered_consent_skips_the_screen(client, citizen, keys, verifier, dpop_key):
    v4.sign_in(client, citizen.id)
    path = v4.consent_path(flow.authorize(client, flow.push(client, keys, verifier, dpop_key)))
    assert "code" in v4.redirect_params(v4.decide(client, path, attributes=["regadd"], remember="3m"))
    again = v4.consent_path(
        flow.authorize(client, flow.push(client, keys, verifier, dpop_key, scope="openid uinfin name regadd"))
    )
    assert "code" in v4.redirect_params(client.get(again))


def test_a_disabled_app_cannot_start(client, db_session, agency_app, keys, verifier, dpop_key):
    request_uri = flow.push(client, keys, verifier, dpop_key)
    agency_app.disabled = True
    db_session.commit()
    assert_page(flow.authorize(client, request_uri))
