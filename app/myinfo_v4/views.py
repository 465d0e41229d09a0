"""MyInfo v4 on the wire (../shared/specs/myinfo-v4.md): authorize, token and person.

A thin layer: it parses what the official clients send, checks it with the shared OAuth modules
(client assertion, DPoP, codes, tokens) and hands the release to app.oauth.release. The consent
step between authorize and token is the shared consent screen (app.consent_screen).
"""

from __future__ import annotations

import datetime as dt
import hmac

from flask import Blueprint, Response, current_app, jsonify, redirect, request, url_for

from consent.apps import find_purpose
from consent.consents import requested_attributes
from consent.grants import CHALLENGE, InvalidGrant, open_request, record_token, redeem_code, usable_token
from consent.models import AgencyApp, Consent
from core.clock import utcnow
from core.errors import DomainError, Unauthorized, ValidationFailed
from core.rate_limit import RateLimited

from .. import rate_limit
from ..errors import error_response
from ..extensions import db, runtime
from ..oauth import urls
from ..oauth.access_tokens import issue_access_token, verify_access_token
from ..oauth.client_auth import ASSERTION_TYPE, ClientAuthError, verify_client_assertion
from ..oauth.dpop import DPoPError, verify_dpop_proof
from ..oauth.release import Release, release_person, seal
from ..oauth.wire import (
    NO_STORE,
    OAuthError,
    dpop_challenge,
    json_error,
    redirect_with,
    single_params,
    split_scope,
)
from ..security import public

PROFILE = "myinfo-v4"
bp = Blueprint("myinfo_v4", __name__, url_prefix="/com/v4")

AUTHORIZE_PARAMS = (
    "client_id",
    "redirect_uri",
    "scope",
    "purpose_id",
    "code_challenge",
    "code_challenge_method",
    "response_type",
    "state",
    "subentity",
)
TOKEN_PARAMS = (
    "grant_type",
    "code",
    "redirect_uri",
    "client_id",
    "code_verifier",
    "client_assertion_type",
    "client_assertion",
)


def issuer() -> str:
    return urls.issuer(PROFILE)


def token_url() -> str:
    return urls.endpoint(PROFILE, "token")


def person_audience() -> str:
    return urls.endpoint(PROFILE, "person")


@bp.get("/authorize")
@public
def authorize():
    session = db(write=True)
    try:
        params = single_params(request.args, AUTHORIZE_PARAMS)
    except OAuthError as exc:
        return error_response(400, exc.code, exc.message)
    app = session.get(AgencyApp, params.get("client_id", ""))
    if app is None or app.disabled:
        return error_response(404, "invalid_client", "This service is not registered with Consentry.")
    redirect_uri = params.get("redirect_uri", "")
    if redirect_uri not in app.redirect_uris:
        # Never redirect to an address the app did not register (RFC 6749 §4.1.2.1).
        return error_response(
            400, "invalid_request", "The service sent you here with an unknown return address."
        )
    state = params.get("state")
    try:
        purpose, scope = _check_authorize(app, params)
        pending = open_request(
            session,
            profile=PROFILE,
            app=app,
            purpose=purpose,
            redirect_uri=redirect_uri,
            scope=scope,
            state=state,
            code_challenge=params["code_challenge"],
            subentity=params.get("subentity"),
            now=utcnow(),
        )
    except OAuthError as exc:
        target = redirect_with(
            redirect_uri,
            {"error": exc.code, "error_description": exc.message, "state": state, "iss": issuer()},
        )
        return redirect(target, 303)
    session.commit()
    return redirect(url_for("consent_screen.screen", request_id=pending.id), 303)


def _check_authorize(app: AgencyApp, params: dict[str, str]):
    if PROFILE not in app.profiles:
        raise OAuthError("unauthorized_client", "this app may not use MyInfo v4")
    if params.get("response_type", "code") != "code":
        raise OAuthError("unsupported_response_type", "response_type must be code")
    if params.get("code_challenge_method") != "S256":
        raise OAuthError("invalid_request", "PKCE with code_challenge_method S256 is required")
    if not CHALLENGE.match(params.get("code_challenge", "")):
        raise OAuthError(
            "invalid_request", "code_challenge must be a base64url SHA-256 digest (43 characters)"
        )
    purpose = find_purpose(db(), app.client_id, params.get("purpose_id", ""))
    if purpose is None:
        raise OAuthError("invalid_request", "purpose_id is not registered for this app")
    try:
        scope = requested_attributes(app, purpose, split_scope(params.get("scope", "")))
    except ValidationFailed as exc:
        raise OAuthError("invalid_scope", exc.message) from None
    return purpose, scope


@bp.post("/token")
@public
def token():
    rt, now = runtime(), utcnow()
    if request.mimetype != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "send the token request as application/x-www-form-urlencoded")
    params = single_params(request.form, TOKEN_PARAMS)
    if "grant_type" not in params:
        raise OAuthError("invalid_request", "grant_type is required")
    if params["grant_type"] != "authorization_code":
        raise OAuthError("unsupported_grant_type", "only authorization_code is supported")
    app = _client(params.get("client_id"))
    rate_limit.check("oauth_token", app.client_id, limit=rt.config.token_rate_limit, window=60)
    if params.get("client_assertion_type") != ASSERTION_TYPE or "client_assertion" not in params:
        raise ClientAuthError("private_key_jwt client authentication is required")
    resolver = rt.client_jwks.resolver(app.client_id, jwks=app.jwks, jwks_uri=app.jwks_uri)
    assertion = verify_client_assertion(
        params["client_assertion"],
        client_id=app.client_id,
        audience=token_url(),
        jwks=resolver,
        now=now,
        replay=rt.replay,
    )
    jkt = verify_dpop_proof(
        request.headers.get("DPoP", ""), htm="POST", htu=token_url(), now=now, replay=rt.replay
    )
    cnf = assertion.get("cnf")
    if cnf is not None and not (
        isinstance(cnf, dict) and isinstance(cnf.get("jkt"), str) and hmac.compare_digest(cnf["jkt"], jkt)
    ):
        raise ClientAuthError("client_assertion cnf.jkt is not the DPoP proof's key")
    rt.platform_keys.signing_key()  # warm, so the transaction below only writes what it must
    session = db(write=True)  # after the replay-cache writes: SQLite allows one writer at a time
    try:
        grant = redeem_code(
            session,
            code=params.get("code", ""),
            client_id=app.client_id,
            redirect_uri=params.get("redirect_uri"),
            code_verifier=params.get("code_verifier", ""),
            now=now,
        )
        if grant.profile != PROFILE:
            raise InvalidGrant("code was issued for another protocol")
        _consent_still_active(session, grant.consent_id, now)
    except InvalidGrant:
        session.commit()  # the code stays used, and a replay's revocations stick
        raise
    ttl = dt.timedelta(seconds=rt.config.access_token_ttl_s)
    access_token, claims = issue_access_token(
        rt.platform_keys, grant=grant, jkt=jkt, issuer=issuer(), audience=person_audience(), now=now, ttl=ttl
    )
    record_token(session, grant=grant, jti=claims["jti"], jkt=jkt, now=now, ttl=ttl)
    session.commit()
    body = {
        "access_token": access_token,
        "token_type": "DPoP",
        "expires_in": rt.config.access_token_ttl_s,
        "scope": claims["scope"],
    }
    return jsonify(body), 200, NO_STORE


def _client(client_id: str | None) -> AgencyApp:
    """The registered client, read in a short session of its own (detached): the request's
    write transaction starts only after the replay caches have recorded this request's jtis."""
    with runtime().sessions() as session:
        app = session.get(AgencyApp, client_id) if client_id else None
        if app is None or app.disabled or PROFILE not in app.profiles:
            raise ClientAuthError("unknown, disabled or non-v4 client")
        session.expunge(app)
    return app


def _consent_still_active(session, consent_id: str, now: dt.datetime) -> None:
    consent = session.get(Consent, consent_id)
    if consent is None or not consent.active_at(now):
        raise InvalidGrant("the consent behind this code was revoked or has expired")


@bp.get("/person/<sub>")
@bp.get("/person/<sub>/")
@public
def person(sub: str):
    rt, now = runtime(), utcnow()
    scheme, _, access_token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "dpop" or not access_token.strip():
        raise _TokenError("invalid_token", "send the access token as Authorization: DPoP <token>")
    access_token = access_token.strip()
    claims = verify_access_token(
        rt.platform_keys, access_token, issuer=issuer(), audience=person_audience(), now=now
    )
    verify_dpop_proof(
        request.headers.get("DPoP", ""),
        htm="GET",
        htu=f"{person_audience()}/{sub}",
        now=now,
        replay=rt.replay,
        access_token=access_token,
        expected_jkt=claims["cnf"]["jkt"],
    )
    if not hmac.compare_digest(sub.encode(), claims["sub"].encode()):
        raise _TokenError("invalid_token", "the access token was not issued for this person")
    params = single_params(request.args, ("scope", "subentity"))
    granted = claims["scope"].split()
    wanted = split_scope(params["scope"]) if "scope" in params else granted
    if not wanted:
        raise OAuthError("invalid_request", "scope names no attribute")
    if outside := [name for name in wanted if name not in granted]:
        raise OAuthError("insufficient_scope", f"not consented: {' '.join(sorted(outside))}", status=403)
    if params.get("subentity", claims.get("subentity")) != claims.get("subentity"):
        raise OAuthError("invalid_request", "subentity is not the one consented to", status=403)
    rt.platform_keys.signing_key()  # warm, so the transaction below only writes what it must
    session = db(write=True)
    try:
        issued, consent = usable_token(session, claims["jti"], now=now)
    except DomainError as exc:
        raise _TokenError("invalid_token", exc.message) from None
    app = session.get(AgencyApp, issued.client_id)
    if app is None or app.disabled:
        raise _TokenError("invalid_token", "the app this token was issued to is disabled")
    release = Release(
        profile=PROFILE,
        app=app,
        citizen_id=issued.citizen_id,
        purpose_id=consent.purpose_id,
        consent_id=consent.id,
        token_jti=issued.jti,
        attributes=[name for name in wanted if name in set(issued.scope)],
        subentity=claims.get("subentity"),
    )
    body = seal(rt, app, release_person(session, rt, release, now=now))
    session.commit()  # the disclosure is on record before the first byte goes out
    return Response(body, 200, mimetype="application/jose", headers=NO_STORE)


class _TokenError(OAuthError):
    """A refused access token at the person endpoint: 401 with a DPoP challenge."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(error, description, status=401)


@bp.errorhandler(DomainError)
def _oauth_error(exc: DomainError):
    if isinstance(exc, RateLimited):
        headers = {"Retry-After": str(exc.retry_after)}
        return json_error(429, "slow_down", "too many requests; retry later", headers=headers)
    if isinstance(exc, OAuthError):
        status = exc.status
    elif isinstance(exc, DPoPError):
        status = 401 if request.endpoint == "myinfo_v4.person" else 400
    elif isinstance(exc, Unauthorized) or exc.code == "invalid_client":
        status = 401
    elif isinstance(exc, InvalidGrant | ValidationFailed):
        status = 400
    elif exc.code == "not_found":
        status = 404
    else:
        current_app.logger.error("oauth_unexpected_error %s", exc.code)
        status = 500
    headers = None
    if status == 401 and request.endpoint == "myinfo_v4.person":
        headers = dpop_challenge(exc.code, exc.message)
    error = exc.code if status != 500 else "server_error"
    return json_error(status, error, exc.message if status != 500 else "internal error", headers=headers)
