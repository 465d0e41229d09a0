"""The pieces every documented operation is made of: answers by media type, parameters, form
bodies, and the error answers of each API family (app/developers/wire_schemas.py's shapes)."""

from __future__ import annotations

from typing import Any

from ..request_guards import MAX_DB_INT
from .wire_schemas import ErrorOut, RateLimitedOut

FORM = "application/x-www-form-urlencoded"
TEXT = "text/plain"
HTML = "text/html"
NO_AUTH: list[dict[str, list[str]]] = []
DB_INT = {"type": "integer", "minimum": 0, "maximum": MAX_DB_INT}


def json_answer(description: str, schema: Any, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        answer["headers"] = headers
    return answer


def typed(description: str, media_type: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"description": description, "content": {media_type: {"schema": schema or {"type": "string"}}}}


def page(description: str) -> dict[str, Any]:
    return typed(description, HTML)


RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}}
CHALLENGE = {
    "WWW-Authenticate": {
        "description": 'DPoP error="...", error_description="...", algs="ES256" (RFC 9449 §7.1).',
        "schema": {"type": "string"},
    }
}
LOCATION = {"Location": {"description": "Where the browser goes next.", "schema": {"type": "string"}}}


def path_int(name: str, description: str) -> dict[str, Any]:
    return {"in": "path", "name": name, "required": True, "description": description, "schema": DB_INT}


def query(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {"in": "query", "name": name, "description": description, "schema": {"type": "string", **schema}}


def form(schema: Any) -> dict[str, Any]:
    return {"required": True, "content": {FORM: {"schema": schema}}}


def errors(schema: Any, *statuses: int, challenge: bool = False) -> dict[str, Any]:
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
        answers[str(status)] = json_answer(words[status], schema, headers or None)
    return answers


def json_or_page(description: str) -> dict[str, Any]:
    """An error outside the JSON paths: JSON when the caller accepts it, else a page."""
    answer = json_answer(description, ErrorOut)
    answer["content"][HTML] = {"schema": {"type": "string"}}
    return answer


def plain_errors(*statuses: int) -> dict[str, Any]:
    """app/errors.py's answers: `{error, error_description[, errors]}`, 429 with `retry_after`."""
    words = {
        400: "A malformed or unknown parameter (`errors` names it).",
        401: "Not authenticated.",
        404: "Not found.",
        409: "Already done (a notice already processed).",
        502: "An agency could not be reached (`refresh_failed`); send the notice again.",
    }
    answers = {str(s): json_answer(words[s], ErrorOut) for s in statuses if s != 429}
    if 429 in statuses:
        answers["429"] = json_answer("Rate limited.", RateLimitedOut, RETRY_AFTER)
    return answers
