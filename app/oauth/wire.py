"""What every OAuth wire profile shares: parameter parsing, error bodies and redirects.

Error bodies follow RFC 6749 §5.2 with the MyInfo additions (spec §9): {"code", "message",
"error", "error_description"}. 401s from the resource server carry `WWW-Authenticate: DPoP`
(RFC 9449 §7.1). Descriptions never hold personal data.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode, urlsplit, urlunsplit

from flask import Response, jsonify
from werkzeug.datastructures import MultiDict

from core.errors import DomainError

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
            params[name] = values[0]
    return params


def split_scope(scope: str) -> list[str]:
    """Attribute names from a scope: space-separated (RFC 6749), with "+" and "," tolerated as
    MyInfo clients send them (spec §3). Order kept, duplicates dropped."""
    names = scope.replace(",", " ").replace("+", " ").split()
    return list(dict.fromkeys(names))


def error_body(status: int, error: str, description: str) -> dict[str, object]:
    return {"code": status, "message": description, "error": error, "error_description": description}


def json_error(
    status: int, error: str, description: str, *, headers: Mapping[str, str] | None = None
) -> Response:
    response = jsonify(error_body(status, error, description))
    response.status_code = status
    response.headers.update(NO_STORE)
    if headers:
        response.headers.update(headers)
    return response


def dpop_challenge(error: str, description: str) -> dict[str, str]:
    """WWW-Authenticate for a refused DPoP-protected resource request (RFC 9449 §7.1)."""
    quoted = description.replace("\\", "").replace('"', "'")
    return {"WWW-Authenticate": f'DPoP error="{error}", error_description="{quoted}", algs="ES256"'}


def redirect_with(redirect_uri: str, params: Mapping[str, str | None]) -> str:
    """`redirect_uri` with `params` added to its query, keeping any query it already has
    (RFC 6749 §3.1.2: the registered URI's query must be retained)."""
    parts = urlsplit(redirect_uri)
    extra = urlencode({k: v for k, v in params.items() if v is not None})
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
