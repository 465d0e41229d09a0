"""MyInfo v4 on the wire (../shared/specs/myinfo-v4.md): authorize, token and person.

A thin layer: it parses what the official clients send, checks it with the shared OAuth modules
(app.oauth.token_service for the token endpoint, app.oauth.resource for the DPoP-bound person
call, app.oauth.wire for errors) and hands the release to app.oauth.release. The consent step
between authorize and token is the shared consent screen (app.consent_screen). Myinfo v5
(app.fapi) is the other profile over the same modules.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, jsonify, redirect, request, url_for

from consent.apps import find_purpose
from consent.consents import requested_attributes
from consent.grants import CHALLENGE, open_request
from consent.models import AgencyApp
from core.clock import utcnow
from core.errors import DomainError, ValidationFailed

from ..errors import Refusal, refusal_page
from ..extensions import db, runtime
from ..oauth import urls
from ..oauth.client_auth import ClientAuthError, claimed_client_id
from ..oauth.release import Release, disclosure_writer, release_person, seal
from ..oauth.resource import PresentedProof, TokenRefused, dpop_bound_token, usable_grant
from ..oauth.selection import select_release
from ..oauth.token_service import (
    ES256_ONLY,
    TOKEN_PARAMS,
    ClientPolicy,
    authenticate_client,
    checked_dpop_proof,
    exchange_code,
    token_params,
)
from ..oauth.wire import NO_STORE, OAuthError, oauth_error_response, redirect_with, single_params, split_scope
from ..security import public, public_api

PROFILE = "myinfo-v4"
MAX_SUBENTITY = 100
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
__all__ = ["AUTHORIZE_PARAMS", "TOKEN_PARAMS", "bp"]  # the parameters each endpoint reads


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
    except OAuthError:
        return refusal_page(Refusal.INVALID_LINK, 400)
    if not params.get("client_id"):
        return refusal_page(Refusal.INVALID_LINK, 400)
    app = session.get(AgencyApp, params["client_id"])
    if app is None:
        return refusal_page(Refusal.UNKNOWN_SERVICE, 404)
    if app.disabled:
        return refusal_page(Refusal.SERVICE_DISABLED, 404, service=app.name)
    redirect_uri = params.get("redirect_uri", "")
    if redirect_uri not in app.redirect_uris:
        # Never redirect to an address the app did not register (RFC 6749 §4.1.2.1).
        return refusal_page(Refusal.RETURN_ADDRESS, 400)
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
    if len(params.get("subentity") or "") > MAX_SUBENTITY:  # the column's size
        raise OAuthError("invalid_request", f"subentity must be at most {MAX_SUBENTITY} characters")
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
@public_api
def token():
    now = utcnow()
    params = token_params()
    app, assertion = authenticate_client(
        params,
        # RFC 7521 §4.2: client_id may be left out when the assertion names the client (iss = sub)
        client_id=params.get("client_id") or claimed_client_id(params.get("client_assertion")),
        profile=PROFILE,
        policy=ClientPolicy(audiences=(token_url(),)),
        now=now,
    )
    checked = checked_dpop_proof(htu=token_url(), now=now, policy=ES256_ONLY)
    jkt, proof = checked.jkt, PresentedProof(runtime().replay, checked)
    with proof.settled():  # its jti recorded with the token, or on its own if the call fails
        cnf = assertion.get("cnf")
        if cnf is not None and not (
            isinstance(cnf, dict) and isinstance(cnf.get("jkt"), str) and hmac.compare_digest(cnf["jkt"], jkt)
        ):
            raise ClientAuthError("client_assertion cnf.jkt is not the DPoP proof's key")
        issued = exchange_code(
            params,
            app=app,
            profile=PROFILE,
            jkt=jkt,
            issuer=issuer(),
            audience=person_audience(),
            now=now,
            spend=proof.spend,
        )
    body = {
        "access_token": issued.access_token,
        "token_type": "DPoP",
        "expires_in": issued.expires_in,
        "scope": issued.claims["scope"],
    }
    return jsonify(body), 200, NO_STORE


@bp.get("/person/<sub>")
@bp.get("/person/<sub>/")
@public_api
def person(sub: str):
    rt, now = runtime(), utcnow()
    claims, proof = dpop_bound_token(
        issuer=issuer(), audience=person_audience(), htu=f"{person_audience()}/{sub}", now=now
    )
    with proof.settled():
        asked = _asked_scope(sub, claims)
        rt.platform_keys.signing_key()  # warm, so the transaction below only writes what it must
        reader = db()
        grant = usable_grant(reader, claims, profile=PROFILE, now=now)
        chosen = select_release(grant, claims, asked)  # a declined item is absent, not refused
        release = Release.of(
            grant,
            profile=PROFILE,
            attributes=chosen.attributes,
            subfields=chosen.subfields,
            asked=chosen.asked,
            subentity=claims.get("subentity"),
        )
        with disclosure_writer(rt, reader) as writer:
            body = release_person(
                reader,
                writer,
                rt,
                release,
                now=now,
                seal=lambda person: seal(rt, grant.app, person),
                spend=proof.spend,
            )
            writer.commit()  # the disclosure is on record before the first byte goes out
    return Response(body, 200, mimetype="application/jose", headers=NO_STORE)


def _asked_scope(sub: str, claims: dict) -> list[str] | None:
    """The scope values this person call asks for (None without `scope`: all that was
    requested), once the path's `sub` and any `subentity` are the token's. Whether they may be
    asked is app.oauth.selection's rule. Raises OAuthError or TokenRefused."""
    if not hmac.compare_digest(sub.encode(), claims["sub"].encode()):
        raise TokenRefused("invalid_token", "the access token was not issued for this person")
    params = single_params(request.args, ("scope", "subentity"))
    asked = split_scope(params["scope"]) if "scope" in params else None
    if asked is not None and not asked:
        raise OAuthError("invalid_request", "scope names no attribute")
    if params.get("subentity", claims.get("subentity")) != claims.get("subentity"):
        raise OAuthError("invalid_request", "subentity is not the one consented to", status=403)
    return asked


@bp.errorhandler(DomainError)
def _oauth_error(exc: DomainError):
    if request.endpoint == "myinfo_v4.authorize":  # the citizen's browser: a page, not JSON
        return refusal_page(Refusal.INVALID_LINK, 400)
    return oauth_error_response(exc, resource=request.endpoint == "myinfo_v4.person")
