"""Route guards, signed-in sessions and response hardening. Every view declares exactly one guard;
the route-inventory test fails on a view without one.

Signed-in sessions live on the server (identity/web_sessions.py): Flask's signed cookie holds only
an opaque token under SESSION_KEY ("sid"), and every guarded request looks it up (one primary-key
read, cached for the rest of the request). Sign-in always starts a new session and revokes the one
the browser had, whoever it belonged to; sign-out revokes it, so a copied cookie stops working.
Each role has an idle timeout and an absolute lifetime (Config.*_session_idle_s / *_session_max_s).
A session whose principal lost its rights (a disabled auditor, a changed operator password) is
revoked when next seen. The records are read and written in short transactions of their own, not
the request's (`db()`), so a guard never fixes whether the view's transaction is a writer.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from flask import Flask, Response, flash, g, redirect, request, session, url_for

from audit.auditor_models import Auditor
from audit.auditors import find_active_auditor
from core.clock import utcnow
from identity import web_sessions
from identity.models import WebSession

from .config import Config
from .extensions import runtime

F = TypeVar("F", bound=Callable)
SESSION_KEY = "sid"  # the opaque token naming the server-side session
SESSION_ENDED = "Your session has ended. Sign in again."
HSTS = "max-age=63072000; includeSubDomains"
_STATE = "consentry_web_session"


def _guarded(kind: str) -> Callable[[F], F]:
    def mark(view: F) -> F:
        view._guard = kind  # type: ignore[attr-defined]
        return view

    return mark


def public(view: F) -> F:
    """Explicitly open to anyone."""
    return _guarded("public")(view)


def operator_required(view: F) -> F:
    """Signed-in platform operator (the demo's operator pages), within the operator's idle timeout
    and lifetime and signed in with the current operator password."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if signed_in_as("operator") is None:
            note_ended_session()
            return redirect(url_for("operator.login"))
        return view(*args, **kwargs)

    return _guarded("operator")(wrapper)  # type: ignore[return-value]


def auditor_required(view: F) -> F:
    """Signed-in auditor, within the auditor's idle timeout and lifetime and not disabled since.
    The view finds the auditor in `g.auditor`."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        state = _state()
        if state.auditor is None:
            note_ended_session()
            return redirect(url_for("auditor.login"))
        g.auditor = state.auditor
        return view(*args, **kwargs)

    return _guarded("auditor")(wrapper)  # type: ignore[return-value]


# Signed-in sessions


@dataclass(frozen=True)
class _RequestSession:
    row: WebSession | None = None
    ended: bool = False  # the cookie named a session that is over (signed out, expired, revoked)
    auditor: Auditor | None = None


def signed_in_as(role: str) -> WebSession | None:
    """The request's live session if its principal signed in as `role`, else None."""
    row = _state().row
    return row if row is not None and row.role == role else None


def start_web_session(role: str, subject: str, *, now: dt.datetime) -> None:
    """Sign `subject` in as `role` in a fresh session: a new token, the browser's previous session
    (any role) revoked, everything else in the cookie cleared (fixation). Commits in a short
    transaction of its own: call it after the view committed its own writes (SQLite has one
    writer at a time)."""
    idle, lifetime = _lifetime(role)
    old = session.get(SESSION_KEY)
    with runtime().writer_sessions() as store:
        token = web_sessions.start_session(
            store, role=role, subject=subject, now=now, idle=idle, lifetime=lifetime, replacing=old
        )
        store.commit()
    session.clear()
    session[SESSION_KEY] = token
    g.pop(_STATE, None)


def start_auditor_session(auditor: Auditor, *, now: dt.datetime) -> None:
    start_web_session("auditor", auditor.id, now=now)


def end_web_session(reason: str = web_sessions.SIGNED_OUT) -> None:
    """Revoke the browser's session, whatever its role, and clear the cookie. Commits on its own."""
    token = session.get(SESSION_KEY)
    if token is not None:
        with runtime().writer_sessions() as store:
            web_sessions.revoke(store, token=token, now=utcnow(), reason=reason)
            store.commit()
    session.clear()
    g.pop(_STATE, None)


def note_ended_session() -> None:
    """If the cookie named a session that is over, forget it and say so on the sign-in page."""
    if _state().ended:
        session.pop(SESSION_KEY, None)
        g.pop(_STATE, None)
        flash(SESSION_ENDED, "info")


def operator_subject(config: Config) -> str:
    """The operator's subject: a keyed fingerprint of the shared password, so that changing
    OPERATOR_PASSWORD ends every operator session signed in with the old one."""
    password = b"operator-password:" + config.operator_password.encode()
    digest = hmac.new(config.secret_key.encode(), password, hashlib.sha256)
    return "operator:" + digest.hexdigest()[:32]


def _lifetime(role: str) -> tuple[dt.timedelta, dt.timedelta]:
    config = runtime().config
    idle = getattr(config, f"{role}_session_idle_s")
    lifetime = getattr(config, f"{role}_session_max_s")
    return dt.timedelta(seconds=idle), dt.timedelta(seconds=lifetime)


def _state() -> _RequestSession:
    """The request's session, looked up once per request."""
    if _STATE not in g:
        setattr(g, _STATE, _look_up(session.get(SESSION_KEY)))
    return getattr(g, _STATE)


def _look_up(token: object) -> _RequestSession:
    if token is None:
        return _RequestSession()
    rt, now = runtime(), utcnow()
    revoke_because, auditor = None, None
    with rt.sessions() as store:
        row = web_sessions.resolve(store, token=token, now=now)
        if row is not None and row.role == "auditor":
            auditor = find_active_auditor(store, row.subject)
            revoke_because = None if auditor is not None else "auditor_disabled"
        elif row is not None and row.role == "operator":
            current = operator_subject(rt.config)
            revoke_because = None if hmac.compare_digest(row.subject, current) else "password_changed"
    if row is None:
        return _RequestSession(ended=True)
    if revoke_because or web_sessions.due_for_touch(row, now=now):
        with rt.writer_sessions() as store:
            if revoke_because:
                web_sessions.revoke_all_for(
                    store, role=row.role, subject=row.subject, now=now, reason=revoke_because
                )
            else:
                web_sessions.touch(store, row=row, now=now)
            store.commit()
    return _RequestSession(ended=True) if revoke_because else _RequestSession(row=row, auditor=auditor)


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
    """Response hardening, and the request's signed-in session looked up before anything else.

    Looking the session up first, before any view or blueprint hook opens the request's
    transaction, matters on SQLite: a `last_seen_at` write from inside a view that already holds
    the write lock (a failed sign-in re-rendering its form) would wait on its own request."""

    @app.before_request
    def _look_up_session() -> None:
        if request.endpoint != "static":
            _state()

    @app.after_request
    def _harden(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.endpoint and request.endpoint != "static":
            response.headers.setdefault("Cache-Control", "no-store")
        # Production is served over HTTPS only; development runs on http://localhost, where a
        # remembered HSTS policy would break every other local site on that host name.
        if runtime().config.production:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response
