"""Discovery: our JWKS (MyInfo v4 §6) and the metadata documents generic OAuth 2.0 and OpenID
Connect clients read (RFC 8414, OpenID Connect Discovery 1.0). They advertise exactly what the
endpoints enforce: code flow only, PKCE S256, private_key_jwt with ES256, DPoP with ES256, `iss`
in the authorisation response."""

from __future__ import annotations

from flask import Blueprint, jsonify

from ..extensions import runtime
from ..security import public_api
from . import urls

bp = Blueprint("wellknown", __name__)

# Clients fetch the JWKS on every flow (spec §6); a minute of caching is safe because a new key
# is published long before anything it signs must verify elsewhere, and old ones stay 30 min.
JWKS_CACHE = {"Cache-Control": "public, max-age=60"}
METADATA_CACHE = {"Cache-Control": "public, max-age=3600"}


@bp.get("/.well-known/keys.json")
@bp.get("/.well-known/keys")  # Singpass's path, which Myinfo v5 clients find in discovery
@public_api
def keys():
    return jsonify(runtime().platform_keys.jwks()), 200, JWKS_CACHE


# A new receipt key signs from the moment it is made, so caches must see it soon, as for the JWKS.
RECEIPT_KEYS_CACHE = JWKS_CACHE


@bp.get("/.well-known/receipt-keys")
@public_api
def receipt_keys():
    """The consent-receipt keys (Ed25519): the active one and every earlier one, so a receipt
    saved years ago still verifies (docs/keys.md). Apart from the token keys above."""
    return jsonify(runtime().platform_keys.receipt_jwks()), 200, RECEIPT_KEYS_CACHE


def v4_metadata() -> dict:
    """What v4 issues and enforces, and nothing else: access tokens, no ID tokens (so no ID-token
    algorithms). `person_endpoint` is where the person data is, `GET {person_endpoint}/{sub}` with
    the access token's `sub` (spec §5); `myinfo_person_endpoint`, its earlier name, stays for the
    clients that read it."""
    profile = "myinfo-v4"
    return {
        "issuer": urls.issuer(profile),
        "authorization_endpoint": urls.endpoint(profile, "authorize"),
        "token_endpoint": urls.endpoint(profile, "token"),
        "jwks_uri": runtime().config.public_base_url + "/.well-known/keys.json",
        "person_endpoint": urls.endpoint(profile, "person"),
        "myinfo_person_endpoint": urls.endpoint(profile, "person"),
        "scopes_supported": sorted(runtime().catalogue.names()),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["ES256"],
        "code_challenge_methods_supported": ["S256"],
        "dpop_signing_alg_values_supported": ["ES256"],
        "authorization_response_iss_parameter_supported": True,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "claims_parameter_supported": False,
    }


@bp.get("/.well-known/oauth-authorization-server/com/v4")
@public_api
def oauth_metadata():
    return jsonify(v4_metadata()), 200, METADATA_CACHE


@bp.get("/com/v4/.well-known/openid-configuration")
@public_api
def openid_configuration():
    return jsonify(v4_metadata()), 200, METADATA_CACHE
