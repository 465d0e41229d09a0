"""The resource side shared by every wire profile (MyInfo v4 person, Myinfo v5 userinfo): accept a
DPoP-bound access token and its proof (RFC 9449 §7), then find the token's row, consent and app
still usable. The release itself is app.oauth.release.

Every refusal is a `TokenRefused` (401 with a DPoP challenge) or a DPoPError (401 at a resource
endpoint); the wire module's error handler shapes the body.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import request
from sqlalchemy.orm import Session

from consent.grants import Grant, usable_token
from core.errors import DomainError

from ..extensions import runtime
from .access_tokens import verify_access_token
from .dpop import verify_dpop_proof
from .token_service import ES256_ONLY, DPoPPolicy
from .wire import OAuthError


class TokenRefused(OAuthError):
    """A refused access token at a resource endpoint: 401 with a DPoP challenge (RFC 6750 §3.1)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(error, description, status=401)


def dpop_bound_token(
    *, issuer: str, audience: str, htu: str, now: dt.datetime, policy: DPoPPolicy = ES256_ONLY
) -> tuple[str, dict[str, Any]]:
    """The access token this request presents as `Authorization: DPoP <token>` (a DPoP-bound
    token sent as Bearer is refused, RFC 9449 §7.2) and its claims, once its signature, issuer,
    audience and expiry check out and the request's DPoP proof (method, `htu`, `ath`, replay, iat
    window) was signed by the key the token is bound to. Raises TokenRefused or DPoPError."""
    scheme, _, access_token = request.headers.get("Authorization", "").partition(" ")
    access_token = access_token.strip()
    if scheme.lower() != "dpop" or not access_token:
        raise TokenRefused("invalid_token", "send the access token as Authorization: DPoP <token>")
    rt = runtime()
    claims = verify_access_token(rt.platform_keys, access_token, issuer=issuer, audience=audience, now=now)
    proofs = request.headers.getlist("DPoP")
    verify_dpop_proof(
        proofs[0] if len(proofs) == 1 else "",
        htm=request.method,
        htu=htu,
        now=now,
        replay=rt.replay,
        access_token=access_token,
        expected_jkt=claims["cnf"]["jkt"],
        algorithms=policy.algorithms,
        leeway_s=policy.leeway_s,
    )
    return access_token, claims


def usable_grant(session: Session, claims: dict[str, Any], *, profile: str, now: dt.datetime) -> Grant:
    """The token's row, its consent, the app and the citizen, while the token is unrevoked and
    unexpired, the consent active and the app enabled and still allowed `profile`. Raises
    TokenRefused."""
    try:
        grant = usable_token(session, claims["jti"], now=now)
    except DomainError as exc:
        raise TokenRefused("invalid_token", exc.message) from None
    if grant.app.disabled or profile not in grant.app.profiles:
        raise TokenRefused("invalid_token", "the app this token was issued to is disabled")
    return grant
