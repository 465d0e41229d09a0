"""The token endpoint's work, shared by every wire profile (MyInfo v4, Myinfo v5 on FAPI 2.0).

Parse the form, find the client and authenticate it by its private_key_jwt assertion (RFC 7523),
check the DPoP proof (RFC 9449), redeem the code once (RFC 6749 §4.1.2, RFC 7636) and issue a
DPoP-bound access token. The wire modules choose the policy (assertion audiences, algorithms and
lifetime, whether the code is bound to the DPoP key, the token's scope and type) and shape the
response; the rules themselves are written once, here.

Order matters for SQLite, which allows one writer at a time: the client is read in a short
session of its own and the client assertion's jti is recorded in a transaction of its own, before
the request's write transaction starts; the DPoP proof's jti is recorded in that transaction, with
the token it allows (and on its own if the request fails first: app.oauth.resource.PresentedProof).
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from flask import request
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, make_transient_to_detached

from consent.grants import InvalidGrant, RedeemedCode, record_token, redeem_code
from consent.models import AgencyApp
from core.driver_sql import DriverStatement

from .. import rate_limit
from ..extensions import db, runtime
from .access_tokens import issue_access_token
from .client_auth import ASSERTION_TYPE, ClientAuthError, shown, verify_client_assertion
from .dpop import DPOP_NAMESPACE, REPLAYED, CheckedProof, DPoPError, check_dpop_proof
from .jwks import extract_jws
from .wire import OAuthError, single_params

TOKEN_PARAMS = (
    "grant_type",
    "code",
    "redirect_uri",
    "client_id",
    "code_verifier",
    "client_assertion_type",
    "client_assertion",
)


@dataclass(frozen=True)
class ClientPolicy:
    """What a profile accepts in a client assertion (see `verify_client_assertion`)."""

    audiences: tuple[str, ...]
    algorithms: tuple[str, ...] = ("ES256",)
    max_lifetime_s: int = 300
    leeway_s: int = 5
    audience_as_string: bool = False


@dataclass(frozen=True)
class DPoPPolicy:
    """What a profile accepts in a DPoP proof, and what a missing one is called."""

    algorithms: tuple[str, ...] = ("ES256",)
    leeway_s: int = 5
    missing: str = "invalid_dpop_proof"  # FAPI 2.0 at Singpass: "invalid_request"


ES256_ONLY = DPoPPolicy()  # MyInfo v4


@dataclass(frozen=True)
class Issued:
    """What a redemption produced: the redeemed grant (read it, do not change it) and its
    access token."""

    grant: RedeemedCode
    access_token: str
    claims: dict[str, Any]
    expires_in: int


def form_params(names: tuple[str, ...]) -> dict[str, str]:
    """The named form parameters, each at most once; OAuthError(invalid_request) for a body that
    is not form-encoded or a parameter sent twice."""
    if request.mimetype != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "send the request as application/x-www-form-urlencoded")
    return single_params(request.form, names)


def token_params() -> dict[str, str]:
    """A token request's parameters, after the checks every profile makes (RFC 6749 §4.1.3)."""
    params = form_params(TOKEN_PARAMS)
    if "grant_type" not in params:
        raise OAuthError("invalid_request", "grant_type is required")
    if params["grant_type"] != "authorization_code":
        raise OAuthError("unsupported_grant_type", "only authorization_code is supported")
    return params


def find_client(client_id: str | None, *, profile: str, session: Session | None = None) -> AgencyApp:
    """The registered, enabled client allowed `profile`, read in `session` (else a short session of
    its own) and detached: the request's write transaction starts only after the replay caches
    have recorded this request's jtis. ClientAuthError for anything else, saying which (client ids
    are public)."""
    if not client_id:
        raise ClientAuthError("client_id is missing, and the client_assertion names no client in iss")
    row = None
    if len(client_id) <= 100:
        # The row's columns, made into a detached AgencyApp: the object session.get and expunge
        # gave, without the identity map and the ORM's loading (a sixth of a token call).
        with nullcontext(session) if session is not None else runtime().sessions() as reading:
            row = _CLIENT.first(reading.connection(), {"client_id": client_id})
    if row is None:
        raise ClientAuthError(f"unknown client: no app {shown(client_id)} is registered")
    app = AgencyApp(**dict(zip(_CLIENT_COLUMNS, row, strict=True)))
    make_transient_to_detached(app)
    if profile not in app.profiles:
        raise ClientAuthError(f"the app {shown(client_id)} is not registered for {profile}")
    if app.disabled:
        raise ClientAuthError(f"the app {shown(client_id)} is disabled")
    return app


_CLIENT = DriverStatement(
    select(AgencyApp.__table__).where(AgencyApp.__table__.c.client_id == bindparam("client_id"))
)
_CLIENT_COLUMNS = tuple(column.key for column in AgencyApp.__table__.columns)


def authenticate_client(
    params: dict[str, str],
    *,
    client_id: str | None,
    profile: str,
    policy: ClientPolicy,
    now: dt.datetime,
    limit: str = "oauth_token",
) -> tuple[AgencyApp, dict[str, Any]]:
    """The client `client_id` (allowed `profile`), authenticated by the private_key_jwt assertion
    in `params`, and the assertion's claims. Raises ClientAuthError (401 invalid_client) or
    RateLimited (429).

    Rate limits (app/rate_limit.py): a caller address with too many failed authentications this
    window is refused before anything is checked, and each failure counts against it; the call
    counts against the client's own limit under `limit` only once the client is authenticated,
    so junk assertions naming a client's public id cannot lock that client out."""
    config, address = runtime().config, rate_limit.client_address()
    failures = {"limit": config.client_auth_failure_limit, "window": config.client_auth_failure_window_s}
    # One session for the lot, two transactions where there were four sessions: the reads (the
    # address's failures, the client), then the assertion's jti and the hit that counts, committed
    # together whatever follows. The reads' transaction ends before the writes begin: SQLite
    # cannot turn a read into a write once another writer has committed meanwhile.
    with runtime().sessions() as session:
        rate_limit.refuse_if_spent(rate_limit.CLIENT_AUTH_FAILURES, address, **failures, session=session)
        try:
            app, claims = _authenticate(
                params, client_id=client_id, profile=profile, policy=policy, now=now, session=session
            )
        except ClientAuthError:
            session.commit()  # a recorded jti stays recorded; ends the reads on any other failure
            try:
                rate_limit.check(rate_limit.CLIENT_AUTH_FAILURES, address, **failures, session=session)
            finally:
                session.commit()
            raise
        try:
            rate_limit.check(limit, app.client_id, limit=config.token_rate_limit, window=60, session=session)
        finally:
            session.commit()
    return app, claims


def _authenticate(
    params: dict[str, str],
    *,
    client_id: str | None,
    profile: str,
    policy: ClientPolicy,
    now: dt.datetime,
    session: Session,
) -> tuple[AgencyApp, dict[str, Any]]:
    rt = runtime()
    if "client_assertion_type" not in params:
        raise ClientAuthError(
            "client_assertion_type is missing: authenticate with private_key_jwt (RFC 7523)"
        )
    if params["client_assertion_type"] != ASSERTION_TYPE:
        raise ClientAuthError(f"client_assertion_type must be {ASSERTION_TYPE}")
    if not params.get("client_assertion"):
        raise ClientAuthError("client_assertion is missing")
    if not client_id:  # the assertion had to name the client: say why it could not
        try:
            extract_jws(params["client_assertion"], algorithms=policy.algorithms)
        except ValueError as exc:
            algorithms = " or ".join(policy.algorithms)
            raise ClientAuthError(f"client_assertion is not an {algorithms} JWS: {exc}") from None
    app = find_client(client_id, profile=profile, session=session)
    session.commit()  # the reads end here; the assertion's jti is the next transaction's write
    claims = verify_client_assertion(
        params["client_assertion"],
        client_id=app.client_id,
        audience=policy.audiences,
        jwks=rt.client_jwks.resolver(app.client_id, jwks=app.jwks, jwks_uri=app.jwks_uri),
        now=now,
        replay=rt.replay,
        session=session,
        max_lifetime_s=policy.max_lifetime_s,
        leeway_s=policy.leeway_s,
        algorithms=policy.algorithms,
        audience_as_string=policy.audience_as_string,
    )
    return app, claims


def dpop_key(*, htu: str, now: dt.datetime, policy: DPoPPolicy, required: bool = True) -> str | None:
    """The RFC 7638 thumbprint of the key that signed this request's DPoP proof (`htm` POST, `htu`
    our canonical URL), its jti recorded at once; None when the proof is absent and not
    `required`. Raises DPoPError, or OAuthError when a required proof is missing and the profile
    calls that `invalid_request`."""
    proofs = request.headers.getlist("DPoP")
    if not required and len(proofs) <= 1 and not (proofs and proofs[0]):
        return None
    checked = checked_dpop_proof(htu=htu, now=now, policy=policy)
    if not runtime().replay.first_use(DPOP_NAMESPACE, checked.jti, checked.expires_at):
        raise DPoPError(REPLAYED)
    return checked.jkt


def checked_dpop_proof(*, htu: str, now: dt.datetime, policy: DPoPPolicy) -> CheckedProof:
    """This request's (required) DPoP proof after dpop_key's checks, all but the replay: the
    caller records its jti (the token call, with the token it issues: `exchange_code`'s `spend`
    and app.oauth.resource.PresentedProof)."""
    proofs = request.headers.getlist("DPoP")
    if len(proofs) > 1:
        raise DPoPError("send exactly one DPoP header")  # RFC 9449 §4.3, check 1
    if not proofs or not proofs[0]:
        if policy.missing == "invalid_request":
            raise OAuthError("invalid_request", "a DPoP proof header is required")
        raise DPoPError("DPoP proof is missing")
    return check_dpop_proof(
        proofs[0], htm="POST", htu=htu, now=now, algorithms=policy.algorithms, leeway_s=policy.leeway_s
    )


def exchange_code(
    params: dict[str, str],
    *,
    app: AgencyApp,
    profile: str,
    jkt: str,
    issuer: str,
    audience: str,
    now: dt.datetime,
    code_bound_to_key: bool = False,
    scope_of: Callable[[RedeemedCode], str] | None = None,
    typ: str = "JWT",
    before_commit: Callable[[Session, RedeemedCode, dict[str, Any]], None] | None = None,
    spend: Callable[[Session], None] | None = None,
) -> Issued:
    """Redeem the code in `params` for `app` and issue an access token bound to `jkt`.

    The code must have been issued under `profile`, to this client, for this redirect URI and
    PKCE verifier, and its consent must still be active; with `code_bound_to_key` it must also be
    bound to `jkt` (RFC 9449 §10; DPoPError otherwise). Owns its transaction and commits: on
    success the issued token's row; on refusal the code's used mark and, for a replayed code, the
    revocation of what it issued (RFC 6749 §4.1.2). `before_commit(session, grant, claims)` runs in
    the issuing transaction, so what it writes (v5: the ID token's disclosure entry) commits with
    the token or not at all. `spend(session)` records the DPoP proof's jti first, in the same
    transaction (one commit instead of two; it raises DPoPError on a replay, before the code is
    touched). Raises InvalidGrant or DPoPError, or what `before_commit` raises (then nothing is
    written and the code is not spent)."""
    rt = runtime()
    rt.platform_keys.signing_key()  # warm, so the transaction below only writes what it must
    session = db(write=True)
    try:
        if spend is not None:
            spend(session)
        grant = redeem_code(
            session,
            code=params.get("code", ""),
            client_id=app.client_id,
            redirect_uri=params.get("redirect_uri"),
            code_verifier=params.get("code_verifier", ""),
            now=now,
        )
        if grant.profile != profile:
            raise InvalidGrant("code was issued for another protocol")
        if code_bound_to_key and not (grant.dpop_jkt and hmac.compare_digest(grant.dpop_jkt, jkt)):
            raise DPoPError("DPoP proof key is not the key the authorization code is bound to")
        if not grant.consent_active:
            raise InvalidGrant("the consent behind this code was revoked or has expired")
    except (InvalidGrant, DPoPError):
        session.commit()  # the code stays used, and a replay's revocations stick
        raise
    ttl = dt.timedelta(seconds=rt.config.access_token_ttl_s)
    access_token, claims = issue_access_token(
        rt.platform_keys,
        grant=grant,
        jkt=jkt,
        issuer=issuer,
        audience=audience,
        now=now,
        ttl=ttl,
        scope=scope_of(grant) if scope_of else None,
        typ=typ,
    )
    record_token(session, grant=grant, jti=claims["jti"], jkt=jkt, now=now, ttl=ttl)
    if before_commit is not None:
        before_commit(session, grant, claims)
    session.commit()
    return Issued(grant, access_token, claims, rt.config.access_token_ttl_s)
