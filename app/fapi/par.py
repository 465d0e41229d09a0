"""Checking a pushed authorization request (RFC 9126 §2.1, FAPI 2.0, v5 spec §3.1) once its
client is authenticated: every refusal is an OAuthError with the RFC 6749 §4.1.2.1 code, sent
back in PAR's JSON answer (never as a redirect: nothing has reached the browser yet).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from consent.apps import purposes_of
from consent.consents import requested_attributes
from consent.grants import CHALLENGE
from consent.models import AgencyApp, Purpose
from core.errors import ValidationFailed
from profile_store.catalogue import Catalogue

from ..extensions import db, runtime
from ..oauth.wire import OAuthError
from .profile import ACR_LEVELS, SINGPASS_ACR_LEVELS
from .scopes import RequestedScope, parse_scope

# Every parameter we read, so each can be refused when sent twice (RFC 6749 §3.1); any other
# parameter is ignored (v5 spec §3.1).
PAR_PARAMS = (
    "response_type",
    "scope",
    "state",
    "nonce",
    "client_id",
    "redirect_uri",
    "code_challenge",
    "code_challenge_method",
    "client_assertion_type",
    "client_assertion",
    "dpop_jkt",
    "acr_values",
    "authentication_context_type",
    "authentication_context_message",
    "redirect_uri_https_type",
    "request_uri",
    "request",
)
# Singpass's state pattern, at most 255 characters (SP-PAR); nonce the same (as MockPass).
OPAQUE = re.compile(r"^[A-Za-z0-9/+_\-=.]{1,255}$")
THUMBPRINT = re.compile(r"^[A-Za-z0-9_-]{43}$")


@dataclass(frozen=True)
class PushedRequest:
    """A request fit to wait for the citizen: what `consent.grants.push_request` records."""

    purpose: Purpose
    redirect_uri: str
    scope: RequestedScope
    state: str
    nonce: str
    code_challenge: str
    acr: str


def check_pushed_request(app: AgencyApp, params: dict[str, str], catalogue: Catalogue) -> PushedRequest:
    """Validate PAR's parameters for the authenticated `app`. Raises OAuthError."""
    if "request_uri" in params:
        raise OAuthError("invalid_request", "request_uri must not be sent to the PAR endpoint")
    if "request" in params:
        raise OAuthError("invalid_request", "request objects (JAR) are not supported")
    # SP-PAR: the authentication context is mandatory for Singpass Login apps and refused for
    # Myinfo apps, which every app here is.
    for name in ("authentication_context_type", "authentication_context_message"):
        if name in params:
            raise OAuthError("invalid_request", f"{name} is for Singpass Login apps only, not Myinfo apps")
    if "response_type" not in params:
        raise OAuthError("invalid_request", "response_type is required")
    if params["response_type"] != "code":
        raise OAuthError("unsupported_response_type", "response_type must be code")
    redirect_uri = _redirect_uri(app, params.get("redirect_uri"))
    if params.get("code_challenge_method") != "S256":
        raise OAuthError("invalid_request", "PKCE with code_challenge_method S256 is required")
    if not CHALLENGE.match(params.get("code_challenge", "")):
        raise OAuthError(
            "invalid_request", "code_challenge must be a base64url SHA-256 digest (43 characters)"
        )
    for name in ("state", "nonce"):
        if not OPAQUE.match(params.get(name, "")):
            raise OAuthError("invalid_request", f"{name} is required: 1-255 of A-Z a-z 0-9 / + _ - = .")
    acr = chosen_acr(params.get("acr_values"))
    scope = parse_scope(params.get("scope", ""), catalogue)
    purpose = _only_purpose(app)
    try:
        requested_attributes(app, purpose, scope.attributes)
    except ValidationFailed as exc:
        raise OAuthError("invalid_scope", exc.message) from None
    return PushedRequest(
        purpose=purpose,
        redirect_uri=redirect_uri,
        scope=scope,
        state=params["state"],
        nonce=params["nonce"],
        code_challenge=params["code_challenge"],
        acr=acr,
    )


def chosen_acr(acr_values: str | None) -> str:
    """The assurance level a login will be made at (SP-PAR `acr_values`, OIDC Core §3.1.2.1): the
    first of the client's preference list that we offer, or ours when it sends none. Singpass
    levels only; a list naming none we offer is refused rather than met at another level, so an
    app that demands face verification (loa:3) never gets a weaker sign-in without knowing."""
    if acr_values is None:
        return ACR_LEVELS[0]
    levels = acr_values.split()
    if not levels or any(level not in SINGPASS_ACR_LEVELS for level in levels):
        raise OAuthError(
            "invalid_request",
            "acr_values must be space-separated Singpass levels: " + " ".join(SINGPASS_ACR_LEVELS),
        )
    offered = [level for level in levels if level in ACR_LEVELS]
    if not offered:
        raise OAuthError(
            "invalid_request", f"acr_values names no level offered here; sign-in is at {' '.join(ACR_LEVELS)}"
        )
    return offered[0]


def dpop_jkt_param(params: dict[str, str]) -> str | None:
    """The `dpop_jkt` parameter (RFC 9449 §10), checked for shape; None when absent."""
    value = params.get("dpop_jkt")
    if value is not None and not THUMBPRINT.match(value):
        raise OAuthError("invalid_request", "dpop_jkt must be a base64url SHA-256 JWK thumbprint")
    return value


def _redirect_uri(app: AgencyApp, redirect_uri: str | None) -> str:
    """Required in PAR (FAPI 2.0) and equal to a registered URI; https only in production (plain
    http is registrable only on loopback hosts, for development)."""
    if not redirect_uri:
        raise OAuthError("invalid_request", "redirect_uri is required")
    if redirect_uri not in app.redirect_uris:
        raise OAuthError("invalid_request", "redirect_uri is not registered for this app")
    if runtime().config.production and urlsplit(redirect_uri).scheme != "https":
        raise OAuthError("invalid_request", "redirect_uri must use https")
    return redirect_uri


def _only_purpose(app: AgencyApp) -> Purpose:
    """A Myinfo (v5) app has exactly one purpose, configured at registration (SP-MIG4): the
    request no longer names it."""
    purposes = purposes_of(db(), app.client_id)
    if len(purposes) != 1:
        raise OAuthError("invalid_request", "a Myinfo v5 app must be registered with exactly one purpose")
    return purposes[0]
