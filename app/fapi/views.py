"""Myinfo v5 on the wire (../shared/specs/myinfo-v5-fapi.md): discovery, JWKS, PAR, authorization,
token and userinfo under /fapi.

A thin layer like app.myinfo_v4: the client assertion, DPoP proof, code redemption and token
issuance are app.oauth.token_service; the DPoP-bound resource call is app.oauth.resource; the
citizen's sign-in and consent are the shared consent screen; the release and its audit entry are
app.oauth.release. What is v5's own is the profile's policy (app.fapi.profile), its scope language
(scopes.py), PAR's checks (par.py) and the shapes of what it hands out (tokens.py, discovery.py).
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, jsonify, redirect, request, url_for

from consent.grants import find_pushed_request, push_request
from consent.models import AgencyApp
from core.clock import utcnow
from core.errors import DomainError

from ..errors import Refusal, refusal_page
from ..extensions import db, runtime
from ..oauth.client_auth import ClientAuthError, claimed_client_id
from ..oauth.jwks import JwksError
from ..oauth.metadata_views import JWKS_CACHE, METADATA_CACHE
from ..oauth.release import Release, disclosure_writer, encryption_key, release_person
from ..oauth.resource import PresentedProof, dpop_bound_token, usable_grant
from ..oauth.selection import select_release
from ..oauth.token_service import (
    authenticate_client,
    checked_dpop_proof,
    dpop_key,
    exchange_code,
    form_params,
    token_params,
)
from ..oauth.wire import NO_STORE, OAuthError, oauth_error_response, redirect_with, single_params
from ..security import public, public_api
from . import tokens
from .discovery import metadata
from .par import PAR_PARAMS, check_pushed_request, dpop_jkt_param
from .profile import (
    DPOP,
    ID_TOKEN_ENCRYPTION,
    PROFILE,
    REQUEST_URI_TTL,
    SIGNING_ALGS,
    client_policy,
    endpoint,
    issuer,
)
from .scopes import granted_scope

bp = Blueprint("fapi", __name__, url_prefix="/fapi")
# RFC 8414 §3: the metadata of an issuer with a path lives under the host's /.well-known.
wellknown_bp = Blueprint("fapi_wellknown", __name__)


@bp.get("/.well-known/openid-configuration")
@public_api
def openid_configuration():
    return jsonify(metadata()), 200, METADATA_CACHE


@wellknown_bp.get("/.well-known/oauth-authorization-server/fapi")
@public_api
def oauth_metadata():
    return jsonify(metadata()), 200, METADATA_CACHE


@bp.get("/.well-known/keys")
@public_api
def keys():
    """The platform JWKS, as at /.well-known/keys and /.well-known/keys.json (one key set)."""
    return jsonify(runtime().platform_keys.jwks()), 200, JWKS_CACHE


@bp.post("/par")
@public_api
def par():
    now = utcnow()
    params = form_params(PAR_PARAMS)
    client_id = params.get("client_id") or claimed_client_id(params.get("client_assertion"))
    app, _assertion = authenticate_client(
        params,
        client_id=client_id,
        profile=PROFILE,
        policy=client_policy("par"),
        now=now,
        limit="oauth_par",
    )
    jkt = _par_dpop_binding(params, now)
    pushed = check_pushed_request(app, params, runtime().catalogue)
    session = db(write=True)
    _request, request_uri = push_request(
        session,
        request_uri_ttl=REQUEST_URI_TTL,
        now=now,
        profile=PROFILE,
        app=app,
        purpose=pushed.purpose,
        redirect_uri=pushed.redirect_uri,
        scope=pushed.scope.attributes,
        wire_scope=pushed.scope.values,
        state=pushed.state,
        nonce=pushed.nonce,
        code_challenge=pushed.code_challenge,
        dpop_jkt=jkt,
    )
    session.commit()
    body = {"request_uri": request_uri, "expires_in": int(REQUEST_URI_TTL.total_seconds())}
    return jsonify(body), 201, NO_STORE


def _par_dpop_binding(params: dict[str, str], now: dt.datetime) -> str:
    """The key the code will be bound to: the DPoP proof's, or `dpop_jkt`; both must agree when
    both are sent (RFC 9449 §10.1). Neither is `invalid_request` (SP-PAR)."""
    given = dpop_jkt_param(params)
    proven = dpop_key(htu=endpoint("par"), now=now, policy=DPOP, required=given is None)
    if given is not None and proven is not None and given != proven:
        raise OAuthError("invalid_request", "dpop_jkt is not the thumbprint of the DPoP proof's key")
    return proven or given  # type: ignore[return-value]  # one of them is set


@bp.get("/auth")
@public
def authorize():
    """Only `client_id` and `request_uri` count (FAPI 2.0); the pushed request is the request.
    Unknown, or pushed by another client: a page for the citizen, never a redirect. Known but
    expired or already answered: back to the app with `invalid_request_uri`."""
    try:
        params = single_params(request.args, ("client_id", "request_uri"))
    except OAuthError:
        return refusal_page(Refusal.INVALID_LINK, 400)
    session, now = db(), utcnow()
    client_id = params.get("client_id", "")
    app = session.get(AgencyApp, client_id) if client_id else None
    if app is not None and app.disabled:
        return refusal_page(Refusal.SERVICE_DISABLED, 400, service=app.name)
    if client_id and (app is None or PROFILE not in app.profiles):
        return refusal_page(Refusal.UNKNOWN_SERVICE, 400)
    pushed = find_pushed_request(session, params.get("request_uri", ""), client_id=client_id)
    if pushed is None or app is None:
        return refusal_page(Refusal.INVALID_LINK, 400)
    if pushed.completed_at is not None or pushed.request_uri_expires_at <= now:
        answer = {
            "error": "invalid_request_uri",
            "error_description": "the request_uri has expired or was already used",
            "state": pushed.state,
            "iss": issuer(),
        }
        return redirect(redirect_with(pushed.redirect_uri, answer), 303)
    # Not consumed here: the consent screen closes the request when the citizen answers, so a
    # link preloader or a reload cannot burn it (FAPI 2.0 §5.3.2.2 note).
    return redirect(url_for("consent_screen.screen", request_id=pushed.id), 303)


@bp.post("/token")
@public_api
def token():
    rt, now = runtime(), utcnow()
    params = token_params()
    client_id = params.get("client_id") or claimed_client_id(params.get("client_assertion"))
    app, assertion = authenticate_client(
        params, client_id=client_id, profile=PROFILE, policy=client_policy("token"), now=now
    )
    if "code" in assertion and assertion["code"] != params.get("code"):
        raise ClientAuthError("client_assertion code is not the code being redeemed")
    checked = checked_dpop_proof(htu=endpoint("token"), now=now, policy=DPOP)
    id_token: list[str] = []

    def with_id_token(session, grant, claims) -> None:
        """Sealed in the token's transaction: its sub_attributes' audit entry commits with it."""
        id_token.append(
            tokens.issue_id_token(session, rt, app, grant, token_jti=claims["jti"], issuer=issuer(), now=now)
        )

    proof = PresentedProof(rt.replay, checked)
    with proof.settled():  # its jti recorded with the token, or on its own if the call fails
        encryption_key(rt, app, ID_TOKEN_ENCRYPTION)  # fail before the code is spent, not after
        issued = exchange_code(
            params,
            app=app,
            profile=PROFILE,
            jkt=checked.jkt,
            issuer=issuer(),
            audience=endpoint("userinfo"),
            now=now,
            code_bound_to_key=True,
            scope_of=lambda grant: granted_scope(grant.wire_scope or [], grant.scope),
            typ="at+jwt",
            before_commit=with_id_token,
            spend=proof.spend,
        )
    body = {
        "access_token": issued.access_token,
        "token_type": "DPoP",
        "expires_in": issued.expires_in,
        "id_token": id_token[0],
        "scope": issued.claims["scope"],
    }
    return jsonify(body), 200, NO_STORE


@bp.route("/userinfo", methods=["GET", "POST"])
@public_api
def userinfo():
    rt, now = runtime(), utcnow()
    url = endpoint("userinfo")
    claims, proof = dpop_bound_token(issuer=issuer(), audience=url, htu=url, now=now, policy=DPOP)
    with proof.settled():
        rt.platform_keys.signing_key()  # warm, so the transaction below only writes what it must
        reader = db()
        grant = usable_grant(reader, claims, profile=PROFILE, now=now)
        chosen = select_release(grant, claims)  # all that was requested; declined items absent
        release = Release.of(
            grant,
            profile=PROFILE,
            attributes=chosen.attributes,
            subfields=chosen.subfields,
            asked=chosen.asked,
        )

        def sealed(person: dict) -> str:
            try:
                return tokens.userinfo(rt, grant.app, person, issuer=issuer(), sub=grant.citizen.id, now=now)
            except JwksError as exc:  # SP-UI: the client's JWKS unreachable or malformed
                raise OAuthError("invalid_request", exc.message) from None

        with disclosure_writer(rt, reader) as writer:
            body = release_person(reader, writer, rt, release, now=now, seal=sealed, spend=proof.spend)
            writer.commit()  # the disclosure is on record before the first byte goes out
    return Response(body, 200, mimetype="application/jwt", headers=NO_STORE)


@bp.errorhandler(DomainError)
def _oauth_error(exc: DomainError):
    if request.endpoint == "fapi.authorize":  # the citizen's browser: a page, not JSON
        return refusal_page(Refusal.INVALID_LINK, 400)
    resource = request.endpoint == "fapi.userinfo"
    return oauth_error_response(
        exc,
        resource=resource,
        myinfo=False,
        algs=SIGNING_ALGS,
        # SP-UI: invalid_request at userinfo carries the challenge too.
        challenge_errors=frozenset({"invalid_request"}) if resource else frozenset(),
    )
