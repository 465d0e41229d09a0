"""Rate limits on the web layer: who is asking (the client address, through trusted proxies), the
keys they are counted under, and the 429 page with Retry-After when they ask too often.

The counting itself is `core.rate_limit` (Redis or the database), reached as
`runtime().rate_limiter`. Keys are keyed digests (HMAC-SHA256 under LOOKUP_KEY, the scope bound
in), so neither a national id nor an address is ever stored or sent to Redis in clear.

Sign-in limits (config, see docs/identity.md): per client address, every sign-in attempt counts
(`sign_in_ip_limit` per `sign_in_ip_window_s`); per national id, every attempt counts and a
successful sign-in clears the count (`sign_in_account_limit` per `sign_in_account_window_s`), so
an account takes at most that many wrong guesses per window, however many run in parallel.

Client authentication at the OAuth token and PAR endpoints (app/oauth/token_service.py): the
per-client limit is charged only once the client has proved who it is, so nobody can spend an
app's budget by naming its public client_id; failed authentications are limited per client
address instead (`CLIENT_AUTH_FAILURES`), and an address past that limit is refused before any
assertion is looked at.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import structlog
from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy.orm import Session

from core.rate_limit import Decision, RateLimited

from . import metrics
from .errors import wants_json
from .extensions import runtime

F = TypeVar("F", bound=Callable)
log = structlog.get_logger(__name__)

TOO_MANY_ATTEMPTS = "Too many attempts"


@dataclass(frozen=True)
class Limit:
    scope: str
    limit: int
    window: int


# Failed client authentications (unknown client, bad, expired or replayed assertion) per client
# address, across the token and PAR endpoints of both profiles; the limit and window are
# Config.client_auth_failure_limit / _window_s.
CLIENT_AUTH_FAILURES = "oauth_client_auth_failed:ip"


def client_address() -> str:
    """The client's address: the peer's, or with `trusted_proxy_hops` proxies in front of the app,
    the address the outermost trusted proxy saw (X-Forwarded-For, counted from the right, so a
    client cannot choose its own address by sending the header)."""
    hops = runtime().config.trusted_proxy_hops
    if hops > 0:
        forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",")]
        if len(forwarded) >= hops and forwarded[-hops]:
            return forwarded[-hops]
    return request.remote_addr or "unknown"


def limit_key(scope: str, subject: str) -> str:
    """The counter key for `subject` (an address, a national id) within `scope`."""
    secret = runtime().config.lookup_key.encode()
    digest = hmac.new(secret, f"rate-limit\x1f{scope}\x1f{subject}".encode(), hashlib.sha256).hexdigest()
    return f"{scope}:{digest}"


def check(scope: str, subject: str, *, limit: int, window: int, session: Session | None = None) -> Decision:
    """Count one hit on (scope, subject); raises RateLimited (a 429 page or JSON body) past the
    limit. For callers with their own limits, such as the OAuth token endpoint. With `session`,
    in its transaction, which the caller commits whatever follows."""
    limiter, key = runtime().rate_limiter, limit_key(scope, subject)
    if session is None:
        decision = limiter.check(key, limit, window)
    else:
        decision = limiter.check_in(session, key, limit, window)
    return _allowed(decision, scope)


def refuse_if_spent(
    scope: str, subject: str, *, limit: int, window: int, session: Session | None = None
) -> None:
    """Raise RateLimited when (scope, subject) already has `limit` hits in this window; counts
    nothing. For limits that count only failures: checked before the attempt, charged after it
    fails (`check`). With `session`, read in its transaction."""
    limiter, key = runtime().rate_limiter, limit_key(scope, subject)
    if session is None:
        decision = limiter.peek(key, limit, window)
    else:
        decision = limiter.peek_in(session, key, limit, window)
    _allowed(decision, scope)


def _allowed(decision: Decision, scope: str) -> Decision:
    """`decision` if allowed; else logged, counted and raised as RateLimited."""
    if not decision.allowed:
        log.warning("rate_limited", scope=scope, retry_after=decision.retry_after)
        metrics.rate_limited(scope)
        raise RateLimited(TOO_MANY_ATTEMPTS, retry_after=decision.retry_after)
    return decision


def reset(scope: str, subject: str, *, window: int) -> None:
    """Clear the current window's count of (scope, subject)."""
    runtime().rate_limiter.reset(limit_key(scope, subject), window)


def check_sign_in_address(scope: str) -> None:
    """Count one sign-in attempt from the client's address (limit and window from config)."""
    config = runtime().config
    check(f"{scope}:ip", client_address(), limit=config.sign_in_ip_limit, window=config.sign_in_ip_window_s)


def limit_sign_in_by_address(scope: str) -> Callable[[F], F]:
    """Decorate a sign-in view: every POST counts against the client's address first."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if request.method == "POST":
                check_sign_in_address(scope)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def init_rate_limits(app: Flask) -> None:
    """Turn RateLimited into 429 with Retry-After: JSON for machine callers, a page for people."""

    @app.errorhandler(RateLimited)
    def _rate_limited(exc: RateLimited):
        if wants_json():
            body = {"error": exc.code, "error_description": exc.message, "retry_after": exc.retry_after}
            response = jsonify(body)
        else:
            response = app.make_response(
                render_template("rate_limited.html", wait=_wait_words(exc.retry_after))
            )
        response.status_code = 429
        response.headers["Retry-After"] = str(exc.retry_after)
        return response


def _wait_words(seconds: int) -> str:
    if seconds <= 60:
        return _("a minute")
    return ngettext("%(num)d minute", "%(num)d minutes", -(-seconds // 60))
