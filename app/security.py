"""Route guards and response hardening. Every view declares exactly one guard; the route-inventory
test fails on a view without one."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
from collections.abc import Callable
from typing import TypeVar

from flask import Flask, Response, flash, g, redirect, request, session, url_for

from audit.auditor_models import Auditor
from audit.auditors import find_active_auditor
from core.clock import utcnow

from .extensions import db

F = TypeVar("F", bound=Callable)
OPERATOR_SESSION_KEY = "operator"
AUDITOR_SESSION_KEY = "auditor"
AUDITOR_SIGNED_IN_AT = "auditor_signed_in_at"
# Absolute, not idle: an auditor session ends this long after sign-in however busy it is.
AUDITOR_SESSION_LIFETIME = dt.timedelta(minutes=30)
AUDITOR_SESSION_ENDED = "Your session has ended. Sign in again."


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


def auditor_required(view: F) -> F:
    """Signed-in auditor, within AUDITOR_SESSION_LIFETIME of signing in and not disabled since.
    The view finds the auditor in `g.auditor`."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not session.get(AUDITOR_SESSION_KEY):
            return redirect(url_for("auditor.login"))
        auditor = _current_auditor()
        if auditor is None:
            session.clear()
            flash(AUDITOR_SESSION_ENDED, "info")
            return redirect(url_for("auditor.login"))
        g.auditor = auditor
        return view(*args, **kwargs)

    return _guarded("auditor")(wrapper)  # type: ignore[return-value]


def start_auditor_session(auditor: Auditor, *, now: dt.datetime) -> None:
    session.clear()  # a fresh session on sign-in: nothing set before it survives (fixation)
    session[AUDITOR_SESSION_KEY] = auditor.id
    session[AUDITOR_SIGNED_IN_AT] = int(now.timestamp())


def _current_auditor() -> Auditor | None:
    signed_in_at = session.get(AUDITOR_SIGNED_IN_AT)
    age = utcnow().timestamp() - signed_in_at if isinstance(signed_in_at, int) else -1
    if not 0 <= age < AUDITOR_SESSION_LIFETIME.total_seconds():
        return None
    return find_active_auditor(db(), session[AUDITOR_SESSION_KEY])


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
