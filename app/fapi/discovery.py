"""The v5 metadata document (v5 spec §2.3): OpenID Connect Discovery 1.0 at
`{issuer}/.well-known/openid-configuration`, and the same document as RFC 8414 metadata at
`/.well-known/oauth-authorization-server/fapi`.

It advertises exactly what the endpoints enforce and emit, built from the same constants they use
(app.fapi.profile): PAR required; the code flow in the query; PKCE S256; private_key_jwt and DPoP
with ES256/384/512; `iss` in the authorization response; ES256 ID tokens and userinfo, encrypted
with ECDH-ES+A{128,192,256}KW and A256CBC-HS512 (ID token) or A256GCM (userinfo); `acr` loa:2 only;
`user.identity` beside the catalogue's scopes.
"""

from __future__ import annotations

from typing import Any

from ..extensions import runtime
from ..oauth.jwks import ECDH_ALGORITHMS
from .profile import (
    ACR_LEVELS,
    ID_TOKEN_ENCRYPTION,
    SIGNING_ALGS,
    USERINFO_ENCRYPTION,
    endpoint,
    issuer,
    jwks_uri,
)
from .scopes import supported_scopes

CLAIMS = (
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nonce",
    "acr",
    "amr",
    "sub_type",
    "sub_attributes",
    "person_info",
)


def metadata() -> dict[str, Any]:
    return {
        "issuer": issuer(),
        "pushed_authorization_request_endpoint": endpoint("par"),
        "authorization_endpoint": endpoint("auth"),
        "token_endpoint": endpoint("token"),
        "userinfo_endpoint": endpoint("userinfo"),
        "jwks_uri": jwks_uri(),
        "require_pushed_authorization_requests": True,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "scopes_supported": supported_scopes(runtime().catalogue),
        "claims_supported": list(CLAIMS),
        "acr_values_supported": list(ACR_LEVELS),
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": list(SIGNING_ALGS),
        "dpop_signing_alg_values_supported": list(SIGNING_ALGS),
        "authorization_response_iss_parameter_supported": True,
        "id_token_signing_alg_values_supported": ["ES256"],
        "id_token_encryption_alg_values_supported": list(reversed(ECDH_ALGORITHMS)),
        "id_token_encryption_enc_values_supported": [ID_TOKEN_ENCRYPTION.enc],
        "userinfo_signing_alg_values_supported": ["ES256"],
        "userinfo_encryption_alg_values_supported": list(reversed(ECDH_ALGORITHMS)),
        "userinfo_encryption_enc_values_supported": [USERINFO_ENCRYPTION.enc],
        "request_parameter_supported": False,
        "claims_parameter_supported": False,
    }
