"""The resource side shared by every wire profile (MyInfo v4 person, Myinfo v5 userinfo): accept a
DPoP-bound access token and its proof (RFC 9449 §7), then find the token's row, consent and app
still usable. The release itself is app.oauth.release.

Every refusal is a `TokenRefused` (401 with a DPoP challenge) or a DPoPError (401 at a resource
endpoint); the wire module's error handler shapes the body.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from flask import g, request
from sqlalchemy.orm import Session

from consent.token_grants import Grant, usable_token
from core.errors import DomainError

from ..extensions import runtime
from .access_tokens import verify_access_token
from .dpop import DPOP_NAMESPACE, REPLAYED, CheckedProof, DPoPError, check_dpop_proof
from .replay import ReplayCache
from .token_service import ES256_ONLY, DPoPPolicy
from .wire import OAuthError


class TokenRefused(OAuthError):
    """A refused access token at a resource endpoint: 401 with a DPoP challenge (RFC 6750 §3.1)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(error, description, status=401)


class PresentedProof:
    """The DPoP proof of a resource request, checked but not yet recorded as used.

    Its jti is recorded with the disclosure it allowed (`spend`, in the transaction that appends
    the audit entry): one commit per call instead of two (the replay insert's own transaction
    was a tenth of a person call's time). Of two requests carrying one proof, exactly one
    commits; the other is refused and releases nothing. `settled` guards the rest of the request:
    if it ends without spending the proof (any refusal or failure, a rolled-back disclosure), the
    jti is recorded in a transaction of its own on the way out, so a proof presented once stays
    spent whatever became of its request, as when it was recorded first."""

    def __init__(self, replay: ReplayCache, checked: CheckedProof) -> None:
        self._replay = replay
        self._checked = checked
        self._spent = False

    def spend(self, session: Session) -> None:
        """Record the jti in `session`'s transaction (the database cache; Redis records at once).
        Raises DPoPError when it was already used."""
        checked = self._checked
        if not self._replay.first_use_in(session, DPOP_NAMESPACE, checked.jti, checked.expires_at):
            raise DPoPError(REPLAYED)
        self._spent = True

    @contextmanager
    def settled(self) -> Iterator[PresentedProof]:
        try:
            yield self
        except BaseException:
            # The request's transaction goes first: on PostgreSQL it may hold this jti's
            # uncommitted row, which the insert below would wait on for ever.
            if (session := g.get("db")) is not None:
                session.rollback()
            with suppress(Exception):  # the request's own error is the one to answer with
                self._record()
            raise
        if not self._spent:
            self._record()

    def _record(self) -> None:
        self._replay.first_use(DPOP_NAMESPACE, self._checked.jti, self._checked.expires_at)


def dpop_bound_token(
    *, issuer: str, audience: str, htu: str, now: dt.datetime, policy: DPoPPolicy = ES256_ONLY
) -> tuple[dict[str, Any], PresentedProof]:
    """The claims of the access token this request presents as `Authorization: DPoP <token>` (a
    DPoP-bound token sent as Bearer is refused, RFC 9449 §7.2), once its signature, issuer,
    audience and expiry check out and the request's DPoP proof (method, `htu`, `ath`, iat window)
    was signed by the key the token is bound to; and that proof, for the caller to spend with
    its disclosure (replay is checked then). Raises TokenRefused or DPoPError."""
    scheme, _, access_token = request.headers.get("Authorization", "").partition(" ")
    access_token = access_token.strip()
    if scheme.lower() != "dpop" or not access_token:
        raise TokenRefused("invalid_token", "send the access token as Authorization: DPoP <token>")
    rt = runtime()
    claims = verify_access_token(rt.platform_keys, access_token, issuer=issuer, audience=audience, now=now)
    proofs = request.headers.getlist("DPoP")
    checked = check_dpop_proof(
        proofs[0] if len(proofs) == 1 else "",
        htm=request.method,
        htu=htu,
        now=now,
        access_token=access_token,
        expected_jkt=claims["cnf"]["jkt"],
        algorithms=policy.algorithms,
        leeway_s=policy.leeway_s,
    )
    return claims, PresentedProof(rt.replay, checked)


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
