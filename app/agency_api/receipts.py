"""Agency apps fetch the receipt of their own events (a release to them, a consent decision on
their request), so they hold the same signed proof the citizen does (docs/integration-v4.md).

    POST /api/agency-apps/receipts/<seq>
    Content-Type: application/x-www-form-urlencoded

    client_id=...&client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer
    &client_assertion=<private_key_jwt, aud = {PUBLIC_BASE_URL}/api/agency-apps/receipts>

The app authenticates exactly as at the token endpoint (RFC 7523 private_key_jwt, through
app/oauth/token_service.authenticate_client: the same keys, replay cache and rate limits); a POST
like token introspection (RFC 7662), so the assertion is never in a URL. `<seq>` is the audit
entry's seq, as the receipt's `audit.seq` names it. Answers 200 with `{"receipt", "jws"}`, 401
`invalid_client` for a missing or bad assertion, 404 for another app's event or no such receipt.

An app that does not know the seq asks by the access token it used (its `jti`, which it can read in
the token): `POST /api/agency-apps/receipts` with `token_jti=...` and the same client
authentication answers `{"receipts": [{"receipt", "jws"}, ...]}`, one per release under that
token, newest first; 404 for a token of another app, or one purged (a day after it expired).
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from consent.models import AgencyApp
from consent.receipts import app_receipt, release_seqs
from core.clock import utcnow
from core.errors import NotFound, ValidationFailed

from ..extensions import db, runtime
from ..oauth.client_auth import claimed_client_id
from ..oauth.jwks import ES_ALGORITHMS
from ..oauth.token_service import ClientPolicy, authenticate_client, form_params
from ..oauth.wire import NO_STORE
from ..receipts import receipt_context, signed
from ..security import public

bp = Blueprint("agency_receipts", __name__, url_prefix="/api/agency-apps")
PARAMS = ("client_id", "client_assertion_type", "client_assertion")
BY_TOKEN_PARAMS = (*PARAMS, "token_jti")
PATH = "/api/agency-apps/receipts"


@bp.post("/receipts/<int:seq>")
@public  # authenticated below by the app's client assertion, as the token endpoint is
def app_receipt_view(seq: int):
    client_id = _authenticated(form_params(PARAMS), f"/{seq}")
    try:
        receipt = app_receipt(db(), seq=seq, client_id=client_id, context=receipt_context())
    except NotFound:
        raise NotFound("no receipt with this number for this app") from None
    return jsonify(signed(receipt)), 200, NO_STORE


@bp.post("/receipts")
@public  # authenticated below by the app's client assertion, as the token endpoint is
def receipts_by_token():
    params = form_params(BY_TOKEN_PARAMS)
    client_id = _authenticated(params, "")
    jti = params.get("token_jti")
    if not jti or len(jti) > 64:
        raise ValidationFailed("give the token_jti of your access token", {"token_jti": ["required"]})
    store, context = db(), receipt_context()
    seqs = release_seqs(store, client_id=client_id, token_jti=jti)
    receipts = [signed(app_receipt(store, seq=seq, client_id=client_id, context=context)) for seq in seqs]
    return jsonify({"receipts": receipts}), 200, NO_STORE


def _authenticated(params: dict[str, str], suffix: str) -> str:
    """The client id of the app the request's private_key_jwt assertion authenticates, whose
    `aud` names this endpoint (the receipts URL, or this receipt's). Raises ClientAuthError."""
    client_id = params.get("client_id") or claimed_client_id(params.get("client_assertion"))
    base = runtime().config.public_base_url + PATH
    policy = ClientPolicy(audiences=(base, base + suffix), algorithms=ES_ALGORITHMS)
    app, _claims = authenticate_client(
        params,
        client_id=client_id,
        profile=_profile(client_id),
        policy=policy,
        now=utcnow(),
        limit="agency_receipts",
    )
    runtime().platform_keys.receipt_key()  # made, if need be, before this request's transaction
    return app.client_id


def _profile(client_id: str | None) -> str:
    """A profile the app is registered for, which authenticate_client then requires: any of its
    profiles will do here. For an unknown client, v4, so the refusal is counted as any other."""
    with runtime().sessions() as session:
        app = session.get(AgencyApp, client_id) if client_id and len(client_id) <= 100 else None
        return app.profiles[0] if app is not None and app.profiles else "myinfo-v4"
