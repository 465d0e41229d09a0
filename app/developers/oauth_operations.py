"""The OAuth operations: MyInfo v4, Myinfo v5 (FAPI 2.0) and discovery, as apispec path items."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .operation_parts import LOCATION, NO_AUTH, errors, form, json_answer, page, query, typed
from .wire_schemas import (
    JwksOut,
    MetadataOut,
    MyinfoErrorOut,
    OAuthErrorOut,
    ParForm,
    ParOut,
    TokenForm,
    V4TokenOut,
    V5TokenOut,
)


def oauth_paths() -> Iterator[tuple[str, dict[str, Any]]]:
    yield from _myinfo_v4()
    yield from _myinfo_v5()
    yield from _discovery()


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
                    query("client_id", "The app's client id."),
                    query("redirect_uri", "Exactly one of the app's registered redirect URIs."),
                    query("scope", "Attributes, space separated.", example="uinfin name regadd"),
                    query("purpose_id", "One of the app's registered purposes."),
                    query("code_challenge", "PKCE: base64url SHA-256 of the verifier (43 characters)."),
                    query("code_challenge_method", "Always S256.", enum=["S256"]),
                    query("response_type", "Always code.", enum=["code"]),
                    query("state", "Returned unchanged."),
                    query("subentity", "For a service acting for another entity (at most 100 characters)."),
                ],
                "responses": {
                    "303": {
                        "description": "To the consent screen, or back to the app with an error.",
                        "headers": LOCATION,
                    },
                    "400": page("A page: the link is malformed or the return address is not registered."),
                    "404": page("A page: no such app, or it is disabled."),
                    "429": page("A page: too many requests."),
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
                "requestBody": form(TokenForm),
                "responses": {
                    "200": json_answer("The access token.", V4TokenOut),
                    **errors(MyinfoErrorOut, 400, 401, 429),
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
                    query("scope", "A subset of the token's scope (default: all of it)."),
                    query("subentity", "Must be the one consented to."),
                    {"in": "header", "name": "DPoP", "schema": {"type": "string"}, "required": True},
                ],
                "responses": {
                    "200": typed("The person, as a compact JWE.", "application/jose"),
                    **errors(MyinfoErrorOut, 400, 401, 403, 404, 429, challenge=True),
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
                "requestBody": form(ParForm),
                "responses": {
                    "201": json_answer("Send the citizen to /fapi/auth with this request_uri.", ParOut),
                    **errors(OAuthErrorOut, 400, 401, 429),
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
                    query("client_id", "The app's client id."),
                    query("request_uri", "From PAR."),
                ],
                "responses": {
                    "303": {
                        "description": "To the consent screen, or back with `invalid_request_uri`.",
                        "headers": LOCATION,
                    },
                    "400": page("A page: unknown app or request_uri."),
                    "429": page("A page: too many requests."),
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
                "requestBody": form(TokenForm),
                "responses": {
                    "200": json_answer("The tokens.", V5TokenOut),
                    **errors(OAuthErrorOut, 400, 401, 429),
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
            "200": typed(
                "Compact JWE (ECDH-ES+A*KW, A256GCM) around the signed userinfo.", "application/jwt"
            ),
            **errors(OAuthErrorOut, 400, 401, 403, 404, 429, challenge=True),
        },
    }
    yield "/fapi/userinfo", {"get": userinfo, "post": {**userinfo, "operationId": "userinfo_post"}}


def _discovery() -> Iterator[tuple[str, dict[str, Any]]]:
    metadata = ("The metadata.", MetadataOut)
    key_set = ("A JWK set (RFC 7517).", JwksOut)
    documents = {
        "/fapi/.well-known/openid-configuration": ("Myinfo v5: OpenID Connect Discovery.", metadata),
        "/.well-known/oauth-authorization-server/fapi": ("Myinfo v5: RFC 8414 metadata.", metadata),
        "/.well-known/oauth-authorization-server/com/v4": ("MyInfo v4: RFC 8414 metadata.", metadata),
        "/com/v4/.well-known/openid-configuration": ("MyInfo v4: the same, for OIDC clients.", metadata),
        "/.well-known/keys.json": ("The platform's signing keys (MyInfo v4's JWKS URL).", key_set),
        "/.well-known/keys": ("The same key set (Singpass's path).", key_set),
        "/fapi/.well-known/keys": ("The same key set, under the v5 issuer.", key_set),
        "/.well-known/receipt-keys": ("The consent-receipt keys (Ed25519), every one ever used.", key_set),
    }
    for path, (summary, (answer, schema)) in documents.items():
        operation = {"tags": ["Discovery"], "summary": summary, "security": NO_AUTH}
        yield path, {"get": {**operation, "responses": {"200": json_answer(answer, schema)}}}
