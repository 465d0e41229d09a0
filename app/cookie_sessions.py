"""Flask's signed session cookie, never opened for the machine endpoints.

The token, PAR, person, userinfo and key-set endpoints are called by agency servers, which
authenticate in the request itself (a client assertion, a DPoP-bound access token) and have no
business with our cookie. Opening the cookie session (a serializer built, the Cookie header
parsed, a signature checked when one is sent) and saving it cost a few per cent of a person call.
Views marked `app.security.public_api` get Flask's null session instead: reading it finds
nothing, writing to it raises, and nothing is saved or sent (no Set-Cookie, no Vary: Cookie).

Flask opens the session before it matches the URL, so the marked routes are known by path: each
rule's fixed path, or its fixed part before the first variable (`/com/v4/person/`). Building the
app fails if that would take in a route that is not marked, so a page can never lose its session
to a machine route's prefix.
"""

from __future__ import annotations

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface


class CookieSessions(SecureCookieSessionInterface):
    """The signed cookie session, except on the paths of sessionless views (see the module)."""

    def __init__(self, exact: frozenset[str], prefixes: tuple[str, ...]) -> None:
        self.exact = exact
        self.prefixes = prefixes

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        path = request.path
        if path in self.exact or path.startswith(self.prefixes):
            return None  # Flask's null session
        return super().open_session(app, request)


def is_sessionless(view: object) -> bool:
    return getattr(view, "_sessionless", False)


def init_cookie_sessions(app: Flask) -> None:
    """Install the session interface; after every route is registered (it reads the URL map).
    Raises RuntimeError when a sessionless route's path or prefix would take in another route."""
    exact: set[str] = set()
    prefixes: set[str] = set()
    others = []
    for rule in app.url_map.iter_rules():
        if not is_sessionless(app.view_functions.get(rule.endpoint)):
            others.append(rule.rule)
        elif rule.arguments:
            prefixes.add(rule.rule.split("<", 1)[0])
        else:
            exact.add(rule.rule)
    ordered = tuple(sorted(prefixes))
    if taken := sorted(path for path in others if path in exact or path.startswith(ordered)):
        raise RuntimeError(f"routes with a cookie session under a sessionless route's path: {taken}")
    app.session_interface = CookieSessions(frozenset(exact), ordered)
