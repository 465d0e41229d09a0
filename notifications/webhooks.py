"""An agency app's notices of its consents' changes: Security Event Tokens (RFC 8417) pushed to the
app's webhook over HTTP (RFC 8935), from the same outbox as the citizens' mails.

A consent withdrawn, paused, resumed, narrowed or expired is put in the outbox (kind WEBHOOK) in the
transaction that changes it, so the app's notice cannot be lost or sent for a change that rolled
back. The worker signs each event with the platform's signing key (ES256, the `kid` in the JWKS
the app already trusts for person responses), so the app needs no shared secret, and POSTs it as
`application/secevent+jwt`. The event's `jti` is fixed per outbox row: a retry after a timeout
sends the same token, and the app drops what it has seen (RFC 8935 §2.2). The token names the
consent and its new state, never the citizen: the app asks the status endpoint for more.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.orm import Session

from .delivery import Notice, SendError

EVENT_TYPE = "urn:consentry:secevent:consent-changed"
CONTENT_TYPE = "application/secevent+jwt"
STATES = ("withdrawn", "paused", "resumed", "narrowed", "expired")


def security_event(notice: Notice, *, issuer: str, now: dt.datetime) -> dict[str, Any]:
    """The SET's claims for one outbox row (RFC 8417 §2.2): issuer, audience = the app, a `jti`
    stable across retries, and one event naming the consent and what became of it."""
    params = notice.params
    return {
        "iss": issuer,
        "aud": params["client_id"],
        "iat": int(now.timestamp()),
        "jti": f"consentry-event-{notice.id}",
        "events": {
            EVENT_TYPE: {
                "consent_id": params["consent_id"],
                "purpose_id": params.get("purpose_id"),
                "state": params["state"],
                "changed_at": params["at"],
            }
        },
    }


@dataclass
class Webhooks:
    """What the worker needs to notify apps: where each app listens now, how to sign, how to post."""

    url_of: Callable[[Session, str], str | None]  # the app's webhook URL at send time, or None
    sign: Callable[[dict[str, Any]], str]  # a SET's claims -> compact JWS
    issuer: str
    post: Callable[[str, str], None]  # (url, token); raises SendError

    def deliver(self, notice: Notice, url: str, *, now: dt.datetime) -> None:
        self.post(url, self.sign(security_event(notice, issuer=self.issuer, now=now)))


class HttpPoster:
    """POST a SET and judge the answer: any 2xx (RFC 8935 says 202) is delivered; the rest is a
    SendError with a short reason code, retried by the worker. Redirects are not followed (an
    event goes where the app registered, nowhere else)."""

    def __init__(self, *, timeout_s: float = 10.0) -> None:
        self.timeout_s = timeout_s

    def __call__(self, url: str, token: str) -> None:
        headers = {"Content-Type": CONTENT_TYPE, "Accept": "application/json"}
        try:
            response = httpx.post(url, content=token, headers=headers, timeout=self.timeout_s)
        except httpx.TimeoutException as exc:
            raise SendError("http_timeout") from exc
        except httpx.HTTPError as exc:
            raise SendError("http_down") from exc
        if not 200 <= response.status_code < 300:
            raise SendError(f"http_{response.status_code}")
