"""The OpenAPI 3.1 document of every JSON API (citizen, audit, log, agency, OAuth), built with
apispec from the marshmallow schemas the endpoints load and dump (and, where an endpoint builds its
answer by hand, from app/developers/wire_schemas.py).

The operations themselves are listed in app/developers/operations.py; this module holds the
document's frame: servers, security schemes, shared responses. The document is built once per
public base URL and cached; it holds no secret and nothing about a person.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from . import operations

TITLE = "Consentry APIs"
VERSION = "1.0"
OPENAPI_VERSION = "3.1.0"
DESCRIPTION = """\
Every JSON API of Consentry, a citizen-consent data-sharing platform with MyInfo-compatible
pre-fill: the OAuth endpoints of both wire profiles (MyInfo v4 under `/com/v4`, Myinfo v5 / FAPI 2.0
under `/fapi`), discovery and key sets, the agency apps' receipts and consent status, the agencies'
signed change notifications, the citizen portal's JSON API and the public audit-log proofs.

Errors are JSON `{"error", "error_description"}` (RFC 6749 §5.2) everywhere; MyInfo v4's endpoints
add `code` and `message` (its spec §9); a refused parameter or body adds `errors`, by field. The
developer portal at `/developers` walks through the flows step by step."""

TAGS = [
    {
        "name": "MyInfo v4",
        "description": "Authorization code with PKCE, private_key_jwt, DPoP; JWE person data.",
    },
    {
        "name": "Myinfo v5",
        "description": "FAPI 2.0: PAR, private_key_jwt, DPoP, encrypted ID token and userinfo.",
    },
    {"name": "Discovery", "description": "Authorization-server metadata and the platform's public keys."},
    {
        "name": "Agency apps",
        "description": "Receipts and consent status, authenticated like the token endpoint.",
    },
    {"name": "Agency notifications", "description": "HMAC-signed change notifications from agencies."},
    {"name": "Citizen API", "description": "The signed-in citizen's own history and consents."},
    {"name": "Audit log", "description": "Public, hash-only proofs of the append-only disclosure log."},
]

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "dpop": {
        "type": "http",
        "scheme": "DPoP",
        "description": (
            "The access token from the token endpoint, as `Authorization: DPoP <token>` (a DPoP-bound "
            "token sent as Bearer is refused, RFC 9449 §7.2), with a fresh `DPoP` proof header signed by "
            "the key the token is bound to: `htm`, `htu` (this URL without query), `iat`, a unique `jti` "
            "and `ath` (the token's SHA-256, base64url)."
        ),
    },
    "citizenSession": {
        "type": "apiKey",
        "in": "cookie",
        "name": "session",
        "description": "The citizen portal's signed-in session (sign in at /citizen/sign-in).",
    },
    "agencySignature": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Signature",
        "description": (
            "Hex HMAC-SHA256, keyed with the agency's notify secret, of `X-Timestamp` (Unix seconds), "
            "a full stop and the raw body. The timestamp must be within NOTIFY_MAX_SKEW_S of ours."
        ),
    },
}


def _oauth2(profile: str, authorize: str, token: str) -> dict[str, Any]:
    return {
        "type": "oauth2",
        "description": (
            f"{profile}: the authorization-code grant with PKCE S256. The client authenticates at the "
            "token endpoint with private_key_jwt (RFC 7523: a JWT signed ES256 by its registered key, "
            "`iss` = `sub` = client id, `aud` the endpoint or issuer, short-lived, unique `jti`), never "
            "a secret; tokens are DPoP-bound (RFC 9449)."
        ),
        "flows": {"authorizationCode": {"authorizationUrl": authorize, "tokenUrl": token, "scopes": {}}},
    }


def build_spec(base_url: str) -> dict[str, Any]:
    """The OpenAPI document for a deployment reached at `base_url` (a copy; callers may change it)."""
    return copy.deepcopy(_cached(base_url.rstrip("/")))


@functools.lru_cache(maxsize=8)
def _cached(base_url: str) -> dict[str, Any]:
    spec = APISpec(
        title=TITLE,
        version=VERSION,
        openapi_version=OPENAPI_VERSION,
        plugins=[MarshmallowPlugin()],
        info={"description": DESCRIPTION},
        servers=[{"url": base_url}],
        tags=TAGS,
    )
    for name, scheme in SECURITY_SCHEMES.items():
        spec.components.security_scheme(name, scheme)
    spec.components.security_scheme(
        "myinfoV4", _oauth2("MyInfo v4", f"{base_url}/com/v4/authorize", f"{base_url}/com/v4/token")
    )
    spec.components.security_scheme(
        "myinfoV5",
        {
            "type": "openIdConnect",
            "openIdConnectUrl": f"{base_url}/fapi/.well-known/openid-configuration",
            "description": _oauth2("Myinfo v5 (FAPI 2.0, with PAR)", "", "")["description"],
        },
    )
    for path, item in operations.paths():
        spec.path(path=path, operations=item)
    return spec.to_dict()


def operation_count(document: dict[str, Any]) -> int:
    """How many operations (path and method) the document describes."""
    methods = {"get", "post", "put", "patch", "delete"}
    return sum(1 for item in document["paths"].values() for method in item if method in methods)
