"""Route guards, signed-in sessions and response hardening. Every view declares exactly one guard;
the route-inventory test fails on a view without one.

Signed-in sessions live on the server (identity/web_sessions.py): Flask's signed cookie holds only
an opaque token under SESSION_KEY ("sid"), and every guarded request looks it up (one primary-key
read, cached for the rest of the request). Sign-in always starts a new session and revokes the one
the browser had, whoever it belonged to; sign-out revokes it, so a copied cookie stops working.
Each role has an idle timeout and an absolute lifetime (Config.*_session_idle_s / *_session_max_s).
A session whose principal lost its rights (a disabled member of staff) is revoked when next seen;
a member of staff's roles are read from the account on every request. The records are
read and written in short transactions of their own, not the request's (`db()`), so a guard never
fixes whether the view's transaction is a writer.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from flask import (
    Flask,
    Response,
    abort,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from audit.log import Event
from core.clock import utcnow
from identity import web_sessions
from identity.models import WebSession
from identity.staff import SESSION_ROLE as STAFF
from identity.staff import find_active_staff
from identity.staff_models import StaffMember

from .cookie_sessions import is_sessionless
from .extensions import db, runtime

F = TypeVar("F", bound=Callable)
SESSION_KEY = "sid"  # the opaque token naming the server-side session
SESSION_ENDED = "Your session has ended. Sign in again."
HSTS = "max-age=63072000; includeSubDomains"
_STATE = "consentry_web_session"
LEGACY_AUDITOR = "auditor"  # the session role of the older auditor accounts (none since 0025)


def _guarded(kind: str) -> Callable[[F], F]:
    def mark(view: F) -> F:
        view._guard = kind  # type: ignore[attr-defined]
        return view

    return mark


def public(view: F) -> F:
    """Explicitly open to anyone."""
    return _guarded("public")(view)


def public_api(view: F) -> F:
    """Open to anyone, for machine clients that authenticate in the request itself (a client
    assertion, a DPoP-bound token): no cookie session is opened, looked up or saved for it
    (app/cookie_sessions.py), and its blueprint must be exempt from CSRF."""
    view._sessionless = True  # type: ignore[attr-defined]
    return public(view)


NO_ROLE = "Your staff account does not have the {role} role, so this page is not open to you."


def staff_required(role: str) -> Callable[[F], F]:
    """A signed-in member of staff holding `role` (operator, admin, auditor), within the staff
    idle timeout and lifetime, not disabled since. Signed out: to the staff sign-in page (and back
    here after, for a GET). Signed in without the role: a 403 page, the attempt audited. The view
    finds the member in `g.staff` and the audit actor in `g.actor`."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            member = _state().staff
            if member is None:
                note_ended_session()
                next_path = request.full_path.rstrip("?") if request.method == "GET" else None
                return redirect(url_for("staff.sign_in", next=next_path))
            if not member.has_role(role):
                refuse_role(member, role)
            g.staff, g.actor = member, member.actor
            return view(*args, **kwargs)

        return _guarded(f"staff:{role}")(wrapper)  # type: ignore[return-value]

    return decorate


operator_required = staff_required("operator")
admin_required = staff_required("admin")


def refuse_role(member: StaffMember, role: str) -> None:
    """Audit a member of staff reaching for a page their roles do not open, then answer 403."""
    from .auditing import record

    # The request's own session: a blueprint may already hold it as a writer (the auditor console
    # does), and a second writer would wait on it (SQLite). The view never runs after this.
    details = {"actor": member.actor, "needed_role": role, "endpoint": request.endpoint or ""}
    store = db(write=True)
    record(store, Event(kind="admin_action", outcome="access_denied", details=details))
    store.commit()
    page = render_template("staff/forbidden.html", message=NO_ROLE.format(role=role))
    abort(make_response(page, 403))


def auditor_required(view: F) -> F:
    """A signed-in member of staff with the auditor role: `staff_required("auditor")` (the older
    auditor accounts moved into staff, migration 0025). The view also finds the member in
    `g.auditor` (with `.username`), as the auditor console's views and the log API expect."""

    @functools.wraps(view)
    def as_auditor(*args, **kwargs):
        g.auditor = g.staff
        return view(*args, **kwargs)

    return staff_required("auditor")(as_auditor)  # type: ignore[return-value]


def current_staff() -> StaffMember | None:
    """The signed-in member of staff, if any (for menus and sign-in pages)."""
    return _state().staff


# Signed-in sessions


@dataclass(frozen=True)
class _RequestSession:
    row: WebSession | None = None
    ended: bool = False  # the cookie named a session that is over (signed out, expired, revoked)
    staff: StaffMember | None = None


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


def adopt_rotated_session(token: str) -> None:
    """Give the browser the token its session was rotated to (a step-up: identity.step_up); the
    caller has committed the rotation. The rest of the cookie stays."""
    session[SESSION_KEY] = token
    g.pop(_STATE, None)


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


def _lifetime(role: str) -> tuple[dt.timedelta, dt.timedelta]:
    config = runtime().config
    role = "operator" if role == STAFF else role  # staff sessions keep the operator lifetimes
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
    revoke_because, staff = None, None
    with rt.sessions() as store:
        row = web_sessions.resolve(store, token=token, now=now)
        if row is not None and row.role == LEGACY_AUDITOR:
            revoke_because = "auditor_accounts_merged"  # migration 0025 ends these; defence in depth
        elif row is not None and row.role == STAFF:
            staff = find_active_staff(store, row.subject)
            revoke_because = None if staff is not None else "staff_disabled"
        if staff is not None:
            store.expunge(staff)  # read on after this short transaction (roles, username)
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
    if revoke_because:
        return _RequestSession(ended=True)
    return _RequestSession(row=row, staff=staff)


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
_HARDENING = [(name.lower(), name, value) for name, value in SECURITY_HEADERS.items()]


def init_security_headers(app: Flask) -> None:
    """Response hardening, and the request's signed-in session looked up before anything else.

    Looking the session up first, before any view or blueprint hook opens the request's
    transaction, matters on SQLite: a `last_seen_at` write from inside a view that already holds
    the write lock (a failed sign-in re-rendering its form) would wait on its own request."""

    @app.before_request
    def _look_up_session() -> None:
        if request.endpoint != "static" and not is_sessionless(app.view_functions.get(request.endpoint)):
            _state()

    @app.after_request
    def _harden(response: Response) -> Response:
        # Each header unless the view set its own. One pass over the response's headers, not a
        # setdefault per header (each a scan of them all): this runs on every API call.
        present = {name.lower() for name, _value in response.headers.items()}
        wanted = [(name, value) for key, name, value in _HARDENING if key not in present]
        if "cache-control" not in present and request.endpoint and request.endpoint != "static":
            wanted.append(("Cache-Control", "no-store"))
        # Production is served over HTTPS only; development runs on http://localhost, where a
        # remembered HSTS policy would break every other local site on that host name.
        if runtime().config.production and "strict-transport-security" not in present:
            wanted.append(("Strict-Transport-Security", HSTS))
        response.headers.extend(wanted)
        return response
