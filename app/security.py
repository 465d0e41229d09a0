"""Route guards and response hardening. Every view declares exactly one guard; the route-inventory
test fails on a view without one."""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Callable
from typing import TypeVar

from flask import Flask, Response, redirect, request, session, url_for

F = TypeVar("F", bound=Callable)
OPERATOR_SESSION_KEY = "operator"


def _guarded(kind: str) -> Callable[[F], F]:
    def mark(view: F) -> F:
        view._guard = kind  # type: ignore[attr-defined]
        return view

    return mark


def public(view: F) -> F:
    """Explicitly open to anyone."""
    return _guarded("public")(view)


def operator_required(view: F) -> F:
    """Signed-in platform operator (the demo's operator pages)."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not session.get(OPERATOR_SESSION_KEY):
            return redirect(url_for("operator.login"))
        return view(*args, **kwargs)

    return _guarded("operator")(wrapper)  # type: ignore[return-value]


def agency_signature_required(view: F) -> F:
    """An agency's HMAC-signed request; the view verifies the signature with the agency's secret
    (agency_connectors.notifications) because the secret depends on the path's agency."""
    return _guarded("agency_signature")(view)


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison of two secrets of any length."""
    return hmac.compare_digest(
        hashlib.sha256(given.encode()).digest(), hashlib.sha256(expected.encode()).digest()
    )


SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def init_security_headers(app: Flask) -> None:
    @app.after_request
    def _harden(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.endpoint and request.endpoint != "static":
            response.headers.setdefault("Cache-Control", "no-store")
        return response
