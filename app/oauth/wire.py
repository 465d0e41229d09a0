"""What every OAuth wire profile shares: parameter parsing, error bodies and redirects.

Error bodies follow RFC 6749 §5.2 with the MyInfo v4 additions (spec §9): {"code", "message",
"error", "error_description"}; Myinfo v5 (FAPI 2.0) sends the plain RFC 6749 body {"error",
"error_description"}. 401s from the resource server carry `WWW-Authenticate: DPoP`
(RFC 9449 §7.1). `oauth_error_response` maps every refusal to its status in one place for both
profiles. Descriptions never hold personal data.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode, urlsplit, urlunsplit

from flask import Response, current_app, jsonify
from werkzeug.datastructures import MultiDict

from consent.grants import InvalidGrant
from core.errors import DomainError, Unauthorized, ValidationFailed
from core.rate_limit import RateLimited

from .dpop import DPoPError

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
MAX_PARAM_LENGTH = 4096


class OAuthError(DomainError):
    """An error the wire layer answers with an RFC 6749 body (status and error code chosen here)."""

    def __init__(self, error: str, description: str, *, status: int = 400) -> None:
        super().__init__(description)
        self.code = error
        self.status = status


def single_params(source: MultiDict[str, str], names: tuple[str, ...]) -> dict[str, str]:
    """The named parameters, each at most once (RFC 6749 §3.1: "parameters MUST NOT be included
    more than once"); absent ones are left out. Raises OAuthError(invalid_request)."""
    params: dict[str, str] = {}
    for name in names:
        values = source.getlist(name)
        if len(values) > 1:
            raise OAuthError("invalid_request", f"parameter {name} was sent more than once")
        if values:
            if len(values[0]) > MAX_PARAM_LENGTH:
                raise OAuthError("invalid_request", f"parameter {name} is too long")
            if "\x00" in values[0]:  # PostgreSQL can neither store nor compare it
                raise OAuthError("invalid_request", f"parameter {name} contains a NUL character")
            params[name] = values[0]
    return params


def split_scope(scope: str) -> list[str]:
    """Attribute names from a scope: space-separated (RFC 6749), with "+" and "," tolerated as
    MyInfo clients send them (spec §3). Order kept, duplicates dropped."""
    names = scope.replace(",", " ").replace("+", " ").split()
    return list(dict.fromkeys(names))


def error_body(status: int, error: str, description: str, *, myinfo: bool = True) -> dict[str, object]:
    """The RFC 6749 §5.2 body; with `myinfo`, MyInfo v4's `code` and `message` too."""
    if not myinfo:
        return {"error": error, "error_description": description}
    return {"code": status, "message": description, "error": error, "error_description": description}


def json_error(
    status: int,
    error: str,
    description: str,
    *,
    headers: Mapping[str, str] | None = None,
    myinfo: bool = True,
) -> Response:
    response = jsonify(error_body(status, error, description, myinfo=myinfo))
    response.status_code = status
    response.headers.update(NO_STORE)
    if headers:
        response.headers.update(headers)
    return response


def dpop_challenge(error: str, description: str, *, algs: tuple[str, ...] = ("ES256",)) -> dict[str, str]:
    """WWW-Authenticate for a refused DPoP-protected resource request (RFC 9449 §7.1)."""
    quoted = description.replace("\\", "").replace('"', "'")
    return {
        "WWW-Authenticate": f'DPoP error="{error}", error_description="{quoted}", algs="{" ".join(algs)}"'
    }


def oauth_error_response(
    exc: DomainError,
    *,
    resource: bool,
    myinfo: bool = True,
    algs: tuple[str, ...] = ("ES256",),
    challenge_errors: frozenset[str] = frozenset(),
) -> Response:
    """The answer to a refused OAuth call, for every wire profile's error handler.

    Status: the OAuthError's own; 401 for client authentication and (at a `resource` endpoint)
    DPoP failures, else 400 for a bad proof, code or parameter; 429 with Retry-After when rate
    limited; anything unexpected is logged and answered 500 `server_error` without details. At a
    resource endpoint every 401, and each error named in `challenge_errors`, carries a DPoP
    `WWW-Authenticate` challenge advertising `algs`."""
    if isinstance(exc, RateLimited):
        headers = {"Retry-After": str(exc.retry_after)}
        return json_error(429, "slow_down", "too many requests; retry later", headers=headers, myinfo=myinfo)
    if isinstance(exc, OAuthError):
        status = exc.status
    elif isinstance(exc, DPoPError):
        status = 401 if resource else 400
    elif isinstance(exc, Unauthorized) or exc.code == "invalid_client":
        status = 401
    elif isinstance(exc, InvalidGrant | ValidationFailed):
        status = 400
    elif exc.code == "not_found":
        status = 404
    else:
        current_app.logger.error("oauth_unexpected_error %s", exc.code)
        status = 500
    error = exc.code if status != 500 else "server_error"
    description = exc.message if status != 500 else "internal error"
    headers = None
    if resource and (status == 401 or error in challenge_errors):
        headers = dpop_challenge(error, description, algs=algs)
    return json_error(status, error, description, headers=headers, myinfo=myinfo)


def redirect_with(redirect_uri: str, params: Mapping[str, str | None]) -> str:
    """`redirect_uri` with `params` added to its query, keeping any query it already has
    (RFC 6749 §3.1.2: the registered URI's query must be retained)."""
    parts = urlsplit(redirect_uri)
    extra = urlencode({k: v for k, v in params.items() if v is not None})
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
