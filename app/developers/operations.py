"""Every documented operation, as apispec path items: what each endpoint reads and every answer it
gives, with the marshmallow schema of each JSON shape. Listed by API, in the order a developer meets
them; app/developers/openapi.py puts them in the document."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..agency_api.schemas import NoticeRequest, NoticeResponse
from ..audit_api.schemas import ConsistencyProof, ConsistencyQuery, InclusionProof, InclusionQuery
from ..citizen.schemas import ConsentListOut, HistoryPageOut, HistoryQuery
from ..request_guards import MAX_DB_INT
from .wire_schemas import (
    ClientAssertionForm,
    ConsentStatusForm,
    ConsentStatusOut,
    ErrorOut,
    JwksOut,
    MetadataOut,
    MyinfoErrorOut,
    OAuthErrorOut,
    ParForm,
    ParOut,
    RateLimitedOut,
    ReceiptListOut,
    ReceiptsByTokenForm,
    SignedCheckpointOut,
    SignedReceiptOut,
    TokenForm,
    V4TokenOut,
    V5TokenOut,
)

FORM = "application/x-www-form-urlencoded"
TEXT = "text/plain"
HTML = "text/html"
NO_AUTH: list[dict[str, list[str]]] = []
DB_INT = {"type": "integer", "minimum": 0, "maximum": MAX_DB_INT}


def _json(description: str, schema: Any, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        answer["headers"] = headers
    return answer


def _typed(description: str, media_type: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"description": description, "content": {media_type: {"schema": schema or {"type": "string"}}}}


def _page(description: str) -> dict[str, Any]:
    return _typed(description, HTML)


RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}}
CHALLENGE = {
    "WWW-Authenticate": {
        "description": 'DPoP error="...", error_description="...", algs="ES256" (RFC 9449 §7.1).',
        "schema": {"type": "string"},
    }
}
LOCATION = {"Location": {"description": "Where the browser goes next.", "schema": {"type": "string"}}}


def _path_int(name: str, description: str) -> dict[str, Any]:
    return {"in": "path", "name": name, "required": True, "description": description, "schema": DB_INT}


def _query(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {"in": "query", "name": name, "description": description, "schema": {"type": "string", **schema}}


def _form(schema: Any) -> dict[str, Any]:
    return {"required": True, "content": {FORM: {"schema": schema}}}


def _errors(schema: Any, *statuses: int, challenge: bool = False) -> dict[str, Any]:
    """The error answers of an OAuth endpoint, in its profile's body `schema`."""
    words = {
        400: "A bad parameter, proof, code or grant (`invalid_request`, `invalid_grant`, ...).",
        401: "Client authentication failed (`invalid_client`) or, at a resource, the token or proof.",
        403: "Asked for more than was authorised (`insufficient_scope`).",
        404: "No such thing for this client.",
        429: "Too many requests or failed authentications (`slow_down`); see Retry-After.",
    }
    answers = {}
    for status in statuses:
        headers = dict(RETRY_AFTER) if status == 429 else {}
        if challenge and status in (400, 401, 403):
            headers.update(CHALLENGE)
        answers[str(status)] = _json(words[status], schema, headers or None)
    return answers


def _json_or_page(description: str) -> dict[str, Any]:
    """An error outside the JSON paths: JSON when the caller accepts it, else a page."""
    answer = _json(description, ErrorOut)
    answer["content"][HTML] = {"schema": {"type": "string"}}
    return answer


def _plain_errors(*statuses: int) -> dict[str, Any]:
    """app/errors.py's answers: `{error, error_description[, errors]}`, 429 with `retry_after`."""
    words = {
        400: "A malformed or unknown parameter (`errors` names it).",
        401: "Not authenticated.",
        404: "Not found.",
        409: "Already done (a notice already processed).",
        502: "An agency could not be reached (`refresh_failed`); send the notice again.",
    }
    answers = {str(s): _json(words[s], ErrorOut) for s in statuses if s != 429}
    if 429 in statuses:
        answers["429"] = _json("Rate limited.", RateLimitedOut, RETRY_AFTER)
    return answers


def paths() -> Iterator[tuple[str, dict[str, Any]]]:
    yield from _myinfo_v4()
    yield from _myinfo_v5()
    yield from _discovery()
    yield from _agency_apps()
    yield from _agency_notifications()
    yield from _citizen()
    yield from _audit()


def _myinfo_v4() -> Iterator[tuple[str, dict[str, Any]]]:
    tags = ["MyInfo v4"]
    yield (
        "/com/v4/authorize",
        {
            "get": {
                "tags": tags,
                "summary": "Send the citizen here to sign in and consent",
                "description": (
                    "A browser endpoint. A bad request from a known app with a registered `redirect_uri` "
                    "goes "
                    "back to the app with `error`, `error_description`, `state` and `iss`; without a trusted "
                    "client and return address the citizen sees a page instead (RFC 6749 §4.1.2.1)."
                ),
                "security": NO_AUTH,
                "parameters": [
                    _query("client_id", "The app's client id."),
                    _query("redirect_uri", "Exactly one of the app's registered redirect URIs."),
                    _query("scope", "Attributes, space separated.", example="uinfin name regadd"),
                    _query("purpose_id", "One of the app's registered purposes."),
                    _query("code_challenge", "PKCE: base64url SHA-256 of the verifier (43 characters)."),
                    _query("code_challenge_method", "Always S256.", enum=["S256"]),
                    _query("response_type", "Always code.", enum=["code"]),
                    _query("state", "Returned unchanged."),
                    _query("subentity", "For a service acting for another entity (at most 100 characters)."),
                ],
                "responses": {
                    "303": {
                        "description": "To the consent screen, or back to the app with an error.",
                        "headers": LOCATION,
                    },
                    "400": _page("A page: the link is malformed or the return address is not registered."),
                    "404": _page("A page: no such app, or it is disabled."),
                    "429": _page("A page: too many requests."),
                },
            }
        },
    )
    yield (
        "/com/v4/token",
        {
            "post": {
                "tags": tags,
                "summary": "Redeem the authorization code for a DPoP-bound access token",
                "description": (
                    "Authenticated with private_key_jwt (`aud` = this URL). Send a `DPoP` proof header "
                    "(ES256); "
                    "the token is bound to its key."
                ),
                "security": NO_AUTH,
                "parameters": [
                    {"in": "header", "name": "DPoP", "schema": {"type": "string"}, "required": True}
                ],
                "requestBody": _form(TokenForm),
                "responses": {
                    "200": _json("The access token.", V4TokenOut),
                    **_errors(MyinfoErrorOut, 400, 401, 429),
                },
            }
        },
    )
    yield (
        "/com/v4/person/{sub}",
        {
            "get": {
                "tags": tags,
                "summary": "The person data the citizen approved, signed and encrypted",
                "description": (
                    "`sub` is the access token's `sub`. The answer is a JWE (ECDH-ES+A256KW, A256GCM, to the "
                    "app's encryption key) around a JWS (ES256, the platform's key from the JWKS). "
                    "An item the "
                    "citizen declined is absent; asking for one never requested is 403."
                ),
                "security": [{"dpop": [], "myinfoV4": []}],
                "parameters": [
                    {"in": "path", "name": "sub", "required": True, "schema": {"type": "string"}},
                    _query("scope", "A subset of the token's scope (default: all of it)."),
                    _query("subentity", "Must be the one consented to."),
                    {"in": "header", "name": "DPoP", "schema": {"type": "string"}, "required": True},
                ],
                "responses": {
                    "200": _typed("The person, as a compact JWE.", "application/jose"),
                    **_errors(MyinfoErrorOut, 400, 401, 403, 404, 429, challenge=True),
                },
            }
        },
    )


def _myinfo_v5() -> Iterator[tuple[str, dict[str, Any]]]:
    tags = ["Myinfo v5"]
    yield (
        "/fapi/par",
        {
            "post": {
                "tags": tags,
                "summary": "Push the authorization request (PAR, RFC 9126)",
                "description": (
                    "Authenticated with private_key_jwt (`aud` the issuer). Bind the code to a key with a "
                    "`DPoP` proof header or `dpop_jkt`. The app's single purpose applies."
                ),
                "security": NO_AUTH,
                "parameters": [{"in": "header", "name": "DPoP", "schema": {"type": "string"}}],
                "requestBody": _form(ParForm),
                "responses": {
                    "201": _json("Send the citizen to /fapi/auth with this request_uri.", ParOut),
                    **_errors(OAuthErrorOut, 400, 401, 429),
                },
            }
        },
    )
    yield (
        "/fapi/auth",
        {
            "get": {
                "tags": tags,
                "summary": "Send the citizen here with the pushed request",
                "security": NO_AUTH,
                "parameters": [
                    _query("client_id", "The app's client id."),
                    _query("request_uri", "From PAR."),
                ],
                "responses": {
                    "303": {
                        "description": "To the consent screen, or back with `invalid_request_uri`.",
                        "headers": LOCATION,
                    },
                    "400": _page("A page: unknown app or request_uri."),
                    "429": _page("A page: too many requests."),
                },
            }
        },
    )
    yield (
        "/fapi/token",
        {
            "post": {
                "tags": tags,
                "summary": "Redeem the code: a DPoP-bound access token and an encrypted ID token",
                "description": "private_key_jwt; the `DPoP` proof's key must be the code's.",
                "security": NO_AUTH,
                "parameters": [
                    {"in": "header", "name": "DPoP", "schema": {"type": "string"}, "required": True}
                ],
                "requestBody": _form(TokenForm),
                "responses": {
                    "200": _json("The tokens.", V5TokenOut),
                    **_errors(OAuthErrorOut, 400, 401, 429),
                },
            }
        },
    )
    userinfo = {
        "tags": tags,
        "summary": "The approved person data: a JWT signed ES256, encrypted to the app's key",
        "security": [{"dpop": [], "myinfoV5": ["openid"]}],
        "parameters": [{"in": "header", "name": "DPoP", "schema": {"type": "string"}, "required": True}],
        "responses": {
            "200": _typed(
                "Compact JWE (ECDH-ES+A*KW, A256GCM) around the signed userinfo.", "application/jwt"
            ),
            **_errors(OAuthErrorOut, 400, 401, 403, 404, 429, challenge=True),
        },
    }
    yield "/fapi/userinfo", {"get": userinfo, "post": {**userinfo, "operationId": "userinfo_post"}}


def _discovery() -> Iterator[tuple[str, dict[str, Any]]]:
    tags = ["Discovery"]
    documents = {
        "/fapi/.well-known/openid-configuration": "Myinfo v5: OpenID Connect Discovery.",
        "/.well-known/oauth-authorization-server/fapi": "Myinfo v5: RFC 8414 metadata.",
        "/.well-known/oauth-authorization-server/com/v4": "MyInfo v4: RFC 8414 metadata.",
        "/com/v4/.well-known/openid-configuration": "MyInfo v4: the same, where OpenID clients look.",
    }
    for path, summary in documents.items():
        yield (
            path,
            {
                "get": {
                    "tags": tags,
                    "summary": summary,
                    "security": NO_AUTH,
                    "responses": {"200": _json("The metadata.", MetadataOut)},
                }
            },
        )
    keys = {
        "/.well-known/keys.json": "The platform's signing keys (MyInfo v4's JWKS URL).",
        "/.well-known/keys": "The same key set (Singpass's path).",
        "/fapi/.well-known/keys": "The same key set, under the v5 issuer.",
        "/.well-known/receipt-keys": "The consent-receipt keys (Ed25519), every one ever used.",
    }
    for path, summary in keys.items():
        yield (
            path,
            {
                "get": {
                    "tags": tags,
                    "summary": summary,
                    "security": NO_AUTH,
                    "responses": {"200": _json("A JWK set (RFC 7517).", JwksOut)},
                }
            },
        )


def _agency_apps() -> Iterator[tuple[str, dict[str, Any]]]:
    tags = ["Agency apps"]
    yield (
        "/api/agency-apps/receipts/{seq}",
        {
            "post": {
                "tags": tags,
                "summary": "The signed receipt of one of the app's events",
                "description": "private_key_jwt with `aud` /api/agency-apps/receipts (or this URL).",
                "security": NO_AUTH,
                "parameters": [
                    _path_int("seq", "The audit entry's seq, as the receipt's `audit.seq` names it.")
                ],
                "requestBody": _form(ClientAssertionForm),
                "responses": {
                    "200": _json("The receipt and its JWS.", SignedReceiptOut),
                    **_plain_errors(400, 401, 404, 429),
                },
            }
        },
    )
    yield (
        "/api/agency-apps/receipts",
        {
            "post": {
                "tags": tags,
                "summary": "Every receipt of the releases made under one access token",
                "security": NO_AUTH,
                "requestBody": _form(ReceiptsByTokenForm),
                "responses": {
                    "200": _json("Newest first.", ReceiptListOut),
                    **_plain_errors(400, 401, 404, 429),
                },
            }
        },
    )
    yield (
        "/api/agency-apps/consents/status",
        {
            "post": {
                "tags": tags,
                "summary": "The state of the app's consents (withdrawn, paused, expired...)",
                "description": "private_key_jwt, `aud` this URL. One consent by `token_jti` or `consent_id`.",
                "security": NO_AUTH,
                "requestBody": _form(ConsentStatusForm),
                "responses": {
                    "200": _json("Newest first, keyset pages.", ConsentStatusOut),
                    **_plain_errors(400, 401, 429),
                },
            }
        },
    )


def _agency_notifications() -> Iterator[tuple[str, dict[str, Any]]]:
    yield (
        "/agency-notifications/{agency}",
        {
            "post": {
                "tags": ["Agency notifications"],
                "summary": "An agency says a citizen's record changed; Consentry refreshes it",
                "security": [{"agencySignature": []}],
                "parameters": [
                    {"in": "path", "name": "agency", "required": True, "schema": {"type": "string"}},
                    {"in": "header", "name": "X-Timestamp", "required": True, "schema": {"type": "string"}},
                ],
                "requestBody": {"required": True, "content": {"application/json": {"schema": NoticeRequest}}},
                "responses": {
                    "200": _json("Refreshed.", NoticeResponse),
                    **_plain_errors(400, 401, 404, 409, 502),
                },
            }
        },
    )


def _citizen() -> Iterator[tuple[str, dict[str, Any]]]:
    tags = ["Citizen API"]
    pages = {
        "/api/citizen/disclosures": ("Who saw the citizen's data, newest first", HistoryPageOut),
        "/api/citizen/consents": ("The consents the citizen gave, newest first", ConsentListOut),
    }
    for path, (summary, schema) in pages.items():
        yield (
            path,
            {
                "get": {
                    "tags": tags,
                    "summary": summary,
                    "security": [{"citizenSession": []}],
                    "parameters": [{"in": "query", "schema": HistoryQuery}],
                    "responses": {"200": _json("One keyset page.", schema), **_plain_errors(400, 401)},
                }
            },
        )


def _audit() -> Iterator[tuple[str, dict[str, Any]]]:
    tags = ["Audit log"]
    cached = {"security": NO_AUTH, "tags": tags}
    yield (
        "/api/audit/public-key",
        {
            "get": {
                **cached,
                "summary": "The audit log's checkpoint-signing key (Ed25519, PEM)",
                "responses": {"200": _typed("PEM; its id in X-Key-Id.", "application/x-pem-file")},
            }
        },
    )
    yield (
        "/api/audit/checkpoints/latest",
        {
            "get": {
                **cached,
                "summary": "The latest signed checkpoint",
                "responses": {"200": _json("Body and signature.", SignedCheckpointOut), **_plain_errors(404)},
            }
        },
    )
    yield (
        "/api/audit/checkpoints/{size}",
        {
            "get": {
                **cached,
                "summary": "The signed checkpoint of a tree size",
                "parameters": [_path_int("size", "The tree size.")],
                "responses": {"200": _json("Body and signature.", SignedCheckpointOut), **_plain_errors(404)},
            }
        },
    )
    yield (
        "/api/audit/proofs/inclusion",
        {
            "get": {
                **cached,
                "summary": "Proof that an entry is in the tree of a size (RFC 9162 §2.1.3)",
                "parameters": [{"in": "query", "schema": InclusionQuery}],
                "responses": {"200": _json("The proof.", InclusionProof), **_plain_errors(400, 404)},
            }
        },
    )
    yield (
        "/api/audit/proofs/consistency",
        {
            "get": {
                **cached,
                "summary": "Proof that a tree extends an earlier one (RFC 9162 §2.1.4)",
                "parameters": [{"in": "query", "schema": ConsistencyQuery}],
                "responses": {"200": _json("The proof.", ConsistencyProof), **_plain_errors(400, 404)},
            }
        },
    )
    yield (
        "/log/checkpoint",
        {
            "get": {
                **cached,
                "summary": "The latest checkpoint as a C2SP signed note (c2sp.org/tlog-checkpoint)",
                "responses": {"200": _typed("The note.", TEXT), "404": _json_or_page("No checkpoint yet.")},
            }
        },
    )
    yield (
        "/.well-known/consentry-log-key",
        {
            "get": {
                **cached,
                "summary": "The note verifier key of the log",
                "responses": {"200": _typed("The verifier key, one line.", TEXT)},
            }
        },
    )
