"""Who the citizen is: the one interface the citizen-facing pages (the consent step, later the
portal) use to find the signed-in citizen and to send someone to sign in.

    current_citizen_id() -> str | None      the signed-in citizen's pseudonymous id, or None
    sign_in_redirect(next_path) -> Response  send the browser to sign in, then back to next_path
    sign_out() -> None                       end the citizen's session
    @citizen_required                        route guard built on the two above
    start_citizen_session(citizen_id, now=)  sign a citizen in (local sign-in, an IdP's callback)

Each delegates to the app's IdentityProvider. The default, LocalAccounts, signs citizens in on
/citizen/sign-in with NRIC/FIN, password and authenticator code (identity/accounts.py). An
external OpenID Connect identity provider replaces it by implementing the same three methods and
being installed with `use_identity_provider(app, provider)`; its callback ends with
`start_citizen_session(citizen_id, now=...)`, as the local sign-in does. See docs/identity.md.

The session itself is a server-side record (app/security.py, identity/web_sessions.py): the
cookie holds an opaque token, sign-out revokes the record, and it ends after
`citizen_session_idle_s` unused or `citizen_session_max_s` after sign-in, whichever comes first.

`next` is only ever a local path (`is_local_path`): no scheme, no host, no "//" or backslash, no
control characters, so a sign-in link cannot send anyone to another site.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Protocol, TypeVar
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, redirect, request, url_for

from .security import _guarded, end_web_session, note_ended_session, signed_in_as, start_web_session

F = TypeVar("F", bound=Callable)
MAX_NEXT = 2000
_EXTENSION = "consentry.identity"


class IdentityProvider(Protocol):
    def current_citizen_id(self) -> str | None:
        """The signed-in citizen's pseudonymous id (citizens.id), or None."""
        ...

    def sign_in_redirect(self, next_path: str) -> Response:
        """A response that has the citizen sign in, then returns them to `next_path` (a local
        path; anything else is dropped)."""
        ...

    def sign_out(self) -> None:
        """End the citizen's session here."""
        ...


class LocalAccounts:
    """Citizens sign in on this site (app/citizen/views.py); `start_citizen_session` remembers
    them in a server-side session. An external provider can subclass this and keep
    `current_citizen_id` and `sign_out`."""

    def current_citizen_id(self) -> str | None:
        row = signed_in_as("citizen")
        return row.subject if row is not None else None

    def sign_in_redirect(self, next_path: str) -> Response:
        args = {"next": next_path} if is_local_path(next_path) else {}
        return redirect(url_for("citizen.sign_in", **args), 303)

    def sign_out(self) -> None:
        end_web_session()


_LOCAL = LocalAccounts()


def use_identity_provider(app: Flask, provider: IdentityProvider) -> None:
    """Install `provider` in place of local accounts (call from create_app)."""
    app.extensions[_EXTENSION] = provider


def _provider() -> IdentityProvider:
    return current_app.extensions.get(_EXTENSION, _LOCAL)


def current_citizen_id() -> str | None:
    """The signed-in citizen's pseudonymous id, or None when nobody is signed in (or the session
    was signed out, revoked, or is past its idle timeout or lifetime)."""
    return _provider().current_citizen_id()


def sign_in_redirect(next_path: str) -> Response:
    """Send the browser to sign in; afterwards it comes back to `next_path` if that is a local
    path, else to the citizen's landing page."""
    return _provider().sign_in_redirect(next_path)


def sign_out() -> None:
    """End the citizen's session."""
    _provider().sign_out()


def start_citizen_session(citizen_id: str, *, now: dt.datetime) -> None:
    """Remember `citizen_id` as signed in, in a fresh server-side session with a new token:
    nothing set before survives (session fixation), and whatever session the browser had (an
    operator's, another citizen's) is revoked. For the local sign-in and any external provider's
    callback. Commits the session record on its own; then, if this browser chose a language
    and the citizen has none stored, stores it for their mails (a transaction of its own)."""
    from .i18n import adopt_browser_language  # app.i18n imports this module

    start_web_session("citizen", citizen_id, now=now)
    adopt_browser_language(citizen_id)


def citizen_required(view: F) -> F:
    """A signed-in citizen; others are sent to sign in and brought back. The view finds the
    citizen's id in `g.citizen_id`."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        citizen_id = current_citizen_id()
        if citizen_id is None:
            note_ended_session()
            here = request.full_path.rstrip("?") if request.method == "GET" else ""
            return sign_in_redirect(here)
        g.citizen_id = citizen_id
        return view(*args, **kwargs)

    return _guarded("citizen")(wrapper)  # type: ignore[return-value]


def is_local_path(value: object) -> bool:
    """True only for a path on this site: one leading "/", no scheme or host, no backslash,
    whitespace or control character (browsers read "/\\evil" and "/\\t/evil" as "//evil")."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_NEXT:
        return False
    if not value.startswith("/") or value.startswith("//"):
        return False
    if "\\" in value or any(ch.isspace() or not ch.isprintable() for ch in value):
        return False
    parts = urlsplit(value)
    return not parts.scheme and not parts.netloc


def safe_next(value: object) -> str | None:
    """`value` if it is a local path, else None."""
    return value if isinstance(value, str) and is_local_path(value) else None
