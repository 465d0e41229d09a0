"""The error pages people meet, and the service status page, in a real Chromium on a 375 px phone
screen: each says what happened in its heading, fits without sideways scrolling, passes axe with
no violations, and loads with no console error, CSP violation or failed resource.

Pages the live server can produce are visited there; 413, 429, 500, 503 and refused forms come
from routes added to a test app (the live app takes no new routes once serving), its answer handed
to the browser at a live-server address so the page's styles and script load from the site.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest
from playwright.sync_api import Route, expect
from sqlalchemy import update

from consent.apps import register_app
from consent.grant_models import AuthorizationRequest
from consent.grants import pkce_challenge
from core.clock import utcnow
from tests.app.test_error_pages import (
    INVALID_LINK,
    REQUEST_ANSWERED,
    REQUEST_EXPIRED,
    RETURN_ADDRESS,
    SERVICE_DISABLED,
    UNKNOWN_SERVICE,
    _failing_routes,
)
from tests.browser.test_operator_browser import horizontal_overflow
from tests.oauth.flow import PURPOSE, REDIRECT_URI, REQUIRED, AgencyKeys, registration


@pytest.fixture(scope="module")
def apps(live) -> Iterator[dict[str, str]]:
    """Two apps committed for real: one working, one disabled."""
    rt = live.app.extensions["consentry"]
    ids = {"working": f"errors-{secrets.token_hex(4)}", "disabled": f"errors-off-{secrets.token_hex(4)}"}
    with rt.sessions() as session:
        for state, client_id in ids.items():
            app = register_app(
                session,
                document=registration(AgencyKeys(), client_id=client_id),
                catalogue=rt.catalogue,
                now=utcnow(),
            )
            app.disabled = state == "disabled"
        session.commit()
    yield ids


def _authorize(client_id: str, **overrides: str) -> str:
    params = {
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": " ".join(REQUIRED),
        "purpose_id": PURPOSE,
        "code_challenge": pkce_challenge(secrets.token_urlsafe(48)),
        "code_challenge_method": "S256",
        "state": "st",
        **overrides,
    }
    return "/com/v4/authorize?" + urlencode(params)


def _consent_path(live, client_id: str, **changes) -> str:
    """A real pending request's consent page, then `changes` made to it in the database."""
    response = httpx.get(live.url + _authorize(client_id), follow_redirects=False, timeout=10)
    path = response.headers["Location"]
    assert response.status_code == 303 and path.startswith("/consent/"), response.text
    rt = live.app.extensions["consentry"]
    with rt.sessions() as session:
        request_id = path.removeprefix("/consent/")
        session.execute(
            update(AuthorizationRequest).where(AuthorizationRequest.id == request_id).values(**changes)
        )
        session.commit()
    return path


def _check(tab, heading: str) -> None:
    expect(tab.page.get_by_role("heading", level=1)).to_have_text(heading)
    assert horizontal_overflow(tab) == []
    assert tab.axe_violations() == []
    assert tab.problems == []


LIVE_PAGES = {
    "page not found": ("/no/such/page", "Page not found"),
    "wrong method": ("/citizen/sign-out", "This page cannot be opened directly"),
    "v4 unknown service": (_authorize("nobody-app"), UNKNOWN_SERVICE),
    "v4 missing parameters": ("/com/v4/authorize", INVALID_LINK),
    "v5 invalid link": ("/fapi/auth?client_id=nobody", UNKNOWN_SERVICE),
    "v5 nothing": ("/fapi/auth", INVALID_LINK),
    "unknown consent request": ("/consent/not-a-real-request", INVALID_LINK),
}


@pytest.mark.parametrize("case", LIVE_PAGES, ids=list(LIVE_PAGES))
def test_error_pages_on_a_phone(phone_tab, case):
    path, heading = LIVE_PAGES[case]
    response = phone_tab.goto(path)
    assert response is not None and response.status >= 400
    _check(phone_tab, heading)


def test_refusals_naming_the_app_on_a_phone(live, phone_tab, apps):
    cases = [
        (_authorize(apps["working"], redirect_uri="https://evil.example/cb"), RETURN_ADDRESS),
        (_authorize(apps["disabled"]), SERVICE_DISABLED),
        (
            _consent_path(live, apps["working"], expires_at=utcnow() - dt.timedelta(seconds=1)),
            REQUEST_EXPIRED,
        ),
        (_consent_path(live, apps["working"], completed_at=utcnow()), REQUEST_ANSWERED),
    ]
    for path, heading in cases:
        phone_tab.goto(path)
        _check(phone_tab, heading)


def test_server_side_error_pages_on_a_phone(app, client, phone_tab):
    """413, 429, 500, 503, a refused form and an expired one as the test app renders them, shown
    at a live-server address."""
    _failing_routes(app)
    app.config["MAX_CONTENT_LENGTH"] = 16
    too_large = client.post("/citizen/sign-in", data={"x": "y" * 64})
    answers = {
        "/test-too-large": (too_large, "What you sent is too large"),
        "/test-busy": (client.get("/test-busy"), "Too many attempts"),
        "/test-boom": (client.get("/test-boom"), "Sorry, there is a problem with the service"),
        "/test-down": (client.get("/test-down"), "Sorry, the service is unavailable"),
        "/test-invalid": (client.get("/test-invalid"), "Sorry, we could not do that"),
        "/test-form-expired": (client.post("/citizen/sign-in", data={}), "This form has expired"),
    }
    for path, (answer, heading) in answers.items():
        phone_tab.page.route(phone_tab.base_url + path, _fulfil_with(answer))
        phone_tab.goto(path)
        _check(phone_tab, heading)


def _fulfil_with(answer):
    def fulfil(route: Route) -> None:
        route.fulfill(status=answer.status_code, headers=dict(answer.headers), body=answer.get_data())

    return fulfil


def test_status_page_on_a_phone(phone_tab):
    phone_tab.goto("/")
    phone_tab.page.get_by_role("link", name="Service status").click()
    expect(phone_tab.page).to_have_url(phone_tab.base_url + "/status")
    _check(phone_tab, "Service status")
    expect(phone_tab.page.get_by_text("Consentry is working normally.")).to_be_visible()
