"""Agency apps poll the state of the consents behind their tokens: a withdrawal, a pause, a
narrowing or an expiry is theirs to learn here (webhooks are to come, from the outbox).

    POST /api/agency-apps/consents/status
    Content-Type: application/x-www-form-urlencoded

    client_id=...&client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer
    &client_assertion=<private_key_jwt, aud = {PUBLIC_BASE_URL}/api/agency-apps/consents/status>
    [&token_jti=... | &consent_id=...] [&limit=1..100] [&cursor=...]

Authenticated exactly as the receipts endpoint (app/agency_api/receipts.py: private_key_jwt, the
token endpoint's keys, replay cache and rate limits); a POST so the assertion is never in a URL.
Answers `{"consents": [{"consent_id", "state", "remembered", "approved", "granted_at",
"expires_at", "paused_at", "withdrawn_at"}], "next_cursor"}`, the app's own consents newest first
(one when `token_jti` or `consent_id` names it; another app's is simply absent); 401
`invalid_client` without a valid assertion, 400 `invalid_request` for a bad parameter.
`state` is active, paused, used, expired or withdrawn (consent.lifecycle).
"""

from __future__ import annotations

from flask import jsonify
from marshmallow import RAISE, Schema, ValidationError, fields, validate

from consent.lifecycle import app_consents, state
from core.clock import utcnow
from core.errors import ValidationFailed

from ..extensions import db, runtime
from ..oauth.client_auth import claimed_client_id
from ..oauth.jwks import ES_ALGORITHMS
from ..oauth.token_service import ClientPolicy, authenticate_client, form_params
from ..oauth.wire import NO_STORE
from ..security import public
from .receipts import PARAMS, _profile, bp

PATH = "/api/agency-apps/consents/status"
STATUS_PARAMS = (*PARAMS, "token_jti", "consent_id", "limit", "cursor")


class StatusQuery(Schema):
    class Meta:
        unknown = RAISE

    token_jti = fields.String(validate=validate.Length(min=1, max=64))
    consent_id = fields.String(validate=validate.Length(min=1, max=36))
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 100))
    cursor = fields.String(validate=validate.Length(min=1, max=200))


@bp.post("/consents/status")
@public  # authenticated below by the app's client assertion, as the token endpoint is
def consent_status():
    params = form_params(STATUS_PARAMS)
    client_id = params.get("client_id") or claimed_client_id(params.get("client_assertion"))
    url = runtime().config.public_base_url + PATH
    app, _claims = authenticate_client(
        params,
        client_id=client_id,
        profile=_profile(client_id),
        policy=ClientPolicy(audiences=(url,), algorithms=ES_ALGORITHMS),
        now=utcnow(),
        limit="agency_consent_status",
    )
    try:
        query = StatusQuery().load({k: v for k, v in params.items() if k not in PARAMS})
    except ValidationError as exc:
        raise ValidationFailed("invalid status request", exc.messages) from None  # type: ignore[arg-type]
    page = app_consents(db(), client_id=app.client_id, **query)
    now = utcnow()
    body = {
        "consents": [
            {
                "consent_id": c.id,
                "state": state(c, now),
                "remembered": c.remembered,
                "approved": list(c.approved),
                "granted_at": c.granted_at.isoformat(),
                "expires_at": c.expires_at.isoformat(),
                "paused_at": c.paused_at.isoformat() if c.paused_at else None,
                "withdrawn_at": c.revoked_at.isoformat() if c.revoked_at else None,
            }
            for c in page.consents
        ],
        "next_cursor": page.next_cursor,
    }
    return jsonify(body), 200, NO_STORE
