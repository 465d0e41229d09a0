"""marshmallow schemas of the wire shapes that had none of their own: error bodies, OAuth token and
PAR answers, key sets, metadata, the agency apps' receipts and consent status, the form bodies of
the OAuth and agency-app endpoints. They exist to describe the wire in the OpenAPI document
(app/developers/openapi.py); the endpoints build their answers themselves, and the conformance
test (tests/developers/test_openapi_conformance.py) holds the two equal.

Request schemas are marshmallow `Schema`s like every other, unknown fields excluded rather than
refused: OAuth endpoints ignore parameters they do not know (RFC 6749 §3.1), so the document must
not promise a refusal."""

from __future__ import annotations

from marshmallow import EXCLUDE, INCLUDE, Schema, fields, validate

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class _Open(Schema):
    class Meta:
        unknown = EXCLUDE


# Error bodies


class ErrorOut(Schema):
    """Every JSON error outside the OAuth endpoints (app/errors.py): RFC 6749 §5.2's two members,
    and `errors` naming each refused field."""

    error = fields.String(required=True, metadata={"example": "invalid_request"})
    error_description = fields.String(required=True)
    errors = fields.Dict(
        keys=fields.String(),
        metadata={"description": "For a refused parameter or body: its problems, by field name."},
    )


class RateLimitedOut(ErrorOut):
    retry_after = fields.Integer(required=True, metadata={"description": "Seconds to wait."})


class OAuthErrorOut(Schema):
    """RFC 6749 §5.2, as Myinfo v5 (FAPI 2.0) and the metadata endpoints send it."""

    error = fields.String(required=True, metadata={"example": "invalid_client"})
    error_description = fields.String(required=True)


class MyinfoErrorOut(OAuthErrorOut):
    """RFC 6749 §5.2 with MyInfo v4's `code` (the HTTP status) and `message` (spec §9)."""

    code = fields.Integer(required=True, metadata={"example": 401})
    message = fields.String(required=True)


# Requests (form bodies)


class ClientAssertionForm(_Open):
    """private_key_jwt client authentication (RFC 7523 §2.2)."""

    client_id = fields.String(metadata={"description": "May be left out when the assertion's iss names it."})
    client_assertion_type = fields.String(required=True, validate=validate.OneOf([ASSERTION_TYPE]))
    client_assertion = fields.String(
        required=True, metadata={"description": "A JWT signed by one of the app's registered keys (ES256)."}
    )


class TokenForm(ClientAssertionForm):
    grant_type = fields.String(required=True, validate=validate.OneOf(["authorization_code"]))
    code = fields.String(required=True)
    redirect_uri = fields.String(required=True)
    code_verifier = fields.String(required=True, metadata={"description": "PKCE (RFC 7636), 43-128 chars."})


class ParForm(ClientAssertionForm):
    response_type = fields.String(required=True, validate=validate.OneOf(["code"]))
    scope = fields.String(required=True, metadata={"example": "openid uinfin name cpfbalances.oa"})
    redirect_uri = fields.String(required=True)
    state = fields.String(required=True)
    nonce = fields.String(required=True)
    code_challenge = fields.String(required=True)
    code_challenge_method = fields.String(required=True, validate=validate.OneOf(["S256"]))
    dpop_jkt = fields.String(metadata={"description": "RFC 9449 §10: when no DPoP header is sent."})


class ReceiptsByTokenForm(ClientAssertionForm):
    token_jti = fields.String(required=True, metadata={"description": "The access token's jti."})


class ConsentStatusForm(ClientAssertionForm):
    token_jti = fields.String(validate=validate.Length(min=1, max=64))
    consent_id = fields.String(validate=validate.Length(min=1, max=36))
    limit = fields.Integer(validate=validate.Range(1, 100))
    cursor = fields.String(validate=validate.Length(min=1, max=200))


# Answers


class V4TokenOut(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True, validate=validate.OneOf(["DPoP"]))
    expires_in = fields.Integer(required=True)
    scope = fields.String(required=True)


class V5TokenOut(V4TokenOut):
    id_token = fields.String(required=True, metadata={"description": "A JWE holding the signed ID token."})


class ParOut(Schema):
    request_uri = fields.String(required=True, metadata={"example": "urn:ietf:params:oauth:request_uri:..."})
    expires_in = fields.Integer(required=True)


class JwkOut(Schema):
    class Meta:
        unknown = INCLUDE  # other members a key may have (x5c, key_ops, ...)

    kty = fields.String(required=True)
    kid = fields.String()
    use = fields.String()
    alg = fields.String()
    crv = fields.String()
    x = fields.String()
    y = fields.String()


class JwksOut(Schema):
    keys = fields.List(fields.Nested(JwkOut), required=True)


class MetadataOut(Schema):
    """RFC 8414 / OpenID Connect Discovery; the members every profile's document has."""

    class Meta:
        unknown = INCLUDE  # each profile adds its own members

    issuer = fields.String(required=True)
    authorization_endpoint = fields.String(required=True)
    token_endpoint = fields.String(required=True)
    jwks_uri = fields.String(required=True)
    scopes_supported = fields.List(fields.String(), required=True)
    response_types_supported = fields.List(fields.String(), required=True)
    token_endpoint_auth_methods_supported = fields.List(fields.String(), required=True)
    dpop_signing_alg_values_supported = fields.List(fields.String(), required=True)
    code_challenge_methods_supported = fields.List(fields.String(), required=True)


class SignedReceiptOut(Schema):
    receipt = fields.Dict(required=True, metadata={"description": "The consent receipt (ISO/IEC TS 27560)."})
    jws = fields.String(required=True, metadata={"description": "The receipt signed (EdDSA), compact JWS."})


class ReceiptListOut(Schema):
    receipts = fields.List(fields.Nested(SignedReceiptOut), required=True)


class ConsentStateOut(Schema):
    consent_id = fields.String(required=True)
    state = fields.String(
        required=True, validate=validate.OneOf(["active", "paused", "used", "expired", "withdrawn"])
    )
    remembered = fields.Boolean(required=True)
    approved = fields.List(fields.String(), required=True)
    granted_at = fields.String(required=True, metadata={"format": "date-time"})
    expires_at = fields.String(required=True, metadata={"format": "date-time"})
    paused_at = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})
    withdrawn_at = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})


class ConsentStatusOut(Schema):
    consents = fields.List(fields.Nested(ConsentStateOut), required=True)
    next_cursor = fields.String(required=True, allow_none=True)


class SignedCheckpointOut(Schema):
    body = fields.Dict(required=True, metadata={"description": "The checkpoint as signed, byte for byte."})
    signature = fields.String(required=True)
