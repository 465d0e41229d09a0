"""The machine endpoints (token, PAR, person, userinfo, key sets and discovery) never open the
cookie session: agency servers authenticate in the request itself, and a page's session must not
be read, touched or re-sent because a cookie came along. Pages still open theirs."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from app.cookie_sessions import init_cookie_sessions, is_sessionless
from app.security import public, public_api

MACHINE_CALLS = (
    ("GET", "/.well-known/keys.json"),
    ("GET", "/fapi/.well-known/keys"),
    ("GET", "/fapi/.well-known/openid-configuration"),
    ("POST", "/com/v4/token"),
    ("GET", "/com/v4/person/S1234567D"),
    ("GET", "/com/v4/person/S1234567D/"),
    ("POST", "/fapi/par"),
    ("POST", "/fapi/token"),
    ("GET", "/fapi/userinfo"),
)


@pytest.fixture
def opened(monkeypatch) -> list[str]:
    """The paths Flask's cookie session was opened for."""
    paths: list[str] = []
    original = SecureCookieSessionInterface.open_session

    def counting(self, app, request):
        paths.append(request.path)
        return original(self, app, request)

    monkeypatch.setattr(SecureCookieSessionInterface, "open_session", counting)
    return paths


@pytest.mark.parametrize(("method", "path"), MACHINE_CALLS)
def test_a_machine_call_with_a_cookie_neither_opens_nor_sends_the_session(client, opened, method, path):
    client.set_cookie("session", "a cookie some browser sent along")
    response = client.open(path, method=method)
    assert response.status_code < 500
    assert opened == []
    assert "Set-Cookie" not in response.headers
    assert "Cookie" not in response.vary


def test_pages_and_browser_endpoints_still_open_the_session(client, opened):
    client.get("/")
    client.get("/com/v4/authorize")  # the citizen's browser: its sign-in needs the session
    client.get("/fapi/auth")
    assert opened == ["/", "/com/v4/authorize", "/fapi/auth"]


def test_the_sessionless_views_are_the_machine_ones(app):
    views = app.view_functions
    for endpoint in ("myinfo_v4.token", "myinfo_v4.person", "fapi.par", "fapi.token", "fapi.userinfo"):
        assert is_sessionless(views[endpoint]), endpoint
    for endpoint in ("myinfo_v4.authorize", "fapi.authorize", "site.index", "citizen.landing"):
        assert not is_sessionless(views.get(endpoint)), endpoint


def test_a_sessionless_prefix_that_would_take_in_a_page_is_refused():
    app = Flask(__name__)
    app.add_url_rule("/api/<item>", "item", public_api(lambda item: item))
    app.add_url_rule("/api/page", "page", public(lambda: "a page with a session"))
    with pytest.raises(RuntimeError, match="/api/page"):
        init_cookie_sessions(app)
