"""All error responses in one place: JSON for machine callers, GOV.UK-styled pages for people.

Caller mistakes are 4xx; messages carry no personal data. A page's words live only in its
template (app/templates/errors/<page>.html, each a variant of error.html), ready for translation;
this module only chooses the page: by status, or by why a citizen's sign-in request was refused.
"""

from __future__ import annotations

from enum import StrEnum

import structlog
from flask import Flask, g, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from core import redis_client
from core.errors import (
    ConfigurationError,
    Conflict,
    CryptoError,
    DomainError,
    NotFound,
    Unauthorized,
    ValidationFailed,
)

log = structlog.get_logger(__name__)

STATUS = {NotFound: 404, Conflict: 409, ValidationFailed: 400, Unauthorized: 401}
# How long a caller is asked to wait when a shared store (Redis) cannot be reached.
UNAVAILABLE_RETRY_AFTER_S = 10
JSON_PREFIXES = ("/api/", "/agency-notifications/", "/com/", "/.well-known/")
# Myinfo v5's machine endpoints; /fapi/auth is the citizen's browser and gets pages.
JSON_PREFIXES += ("/fapi/par", "/fapi/token", "/fapi/userinfo", "/fapi/.well-known/")
# Under a machine prefix, but where the citizen's browser lands: always pages.
PAGE_PATHS = ("/com/v4/authorize",)
# Where a service sends the citizen with a sign-in request: a 400 there is a bad link.
SIGN_IN_ENDPOINTS = ("myinfo_v4.authorize", "fapi.authorize")
# The page for each status; any other gets "bad_request" (4xx) or "problem" (5xx).
PAGES = {
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    429: "too_many_requests",
    503: "unavailable",
}


class Refusal(StrEnum):
    """Why a sign-in request a service sent the citizen with was refused to their face (RFC 6749
    §4.1.2.1: without a trusted client and return address there is no one to redirect to; once
    they are trusted, errors go back to the service instead). Each names its page."""

    UNKNOWN_SERVICE = "unknown_service"  # no such client_id
    SERVICE_DISABLED = "service_disabled"  # the app was disabled, or may not use this profile
    RETURN_ADDRESS = "return_address"  # redirect_uri missing or not registered
    INVALID_LINK = "invalid_link"  # missing, repeated or malformed parameters; unknown request
    REQUEST_EXPIRED = "request_expired"  # the consent step timed out
    REQUEST_ANSWERED = "request_answered"  # the consent step was already answered


def wants_json() -> bool:
    if request.path in PAGE_PATHS:
        return False
    return request.path.startswith(JSON_PREFIXES) or request.accept_mimetypes.best == "application/json"


def error_response(
    status: int,
    error: str,
    description: str,
    errors: dict | None = None,
    *,
    page: str | None = None,
    detail: str | None = None,
):
    """JSON `{error, error_description[, errors]}` for machines; else the page for `status` (or
    `page`), listing `errors` and `detail` (a domain error's message) where it has room for them."""
    if wants_json():
        body = {"error": error, "error_description": description}
        if errors:
            body["errors"] = errors
        return jsonify(body), status
    if page is None and status == 400 and request.endpoint in SIGN_IN_ENDPOINTS:
        page = Refusal.INVALID_LINK.value  # refused before the view, e.g. a NUL in the query
    page = page or PAGES.get(status) or ("problem" if status >= 500 else "bad_request")
    return error_page(page, status, errors=errors or {}, detail=detail)


def error_page(page: str, status: int, **context):
    """`app/templates/errors/<page>.html` with `status`; 5xx pages show the request id as a
    reference for support."""
    body = render_template(f"errors/{page}.html", status=status, reference=g.get("request_id"), **context)
    return make_response(body), status


def refusal_page(cause: Refusal, status: int, *, service: str | None = None):
    """The page for a refused sign-in request; `service` is the app's name once it is known."""
    return error_page(cause.value, status, service=service)


def init_errors(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(exc: DomainError):
        if isinstance(exc, CryptoError | ConfigurationError):
            log.error("integrity_failure", error=exc.code, detail=exc.message, path=request.path)
            return error_response(
                500, "server_error", "Stored data failed an integrity check.", page="integrity"
            )
        status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 400)
        errors = getattr(exc, "errors", None)
        return error_response(status, exc.code, exc.message, errors, detail=exc.message)

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError):
        return error_response(
            400,
            "invalid_request",
            "The form expired or was not sent by this site. Try again.",
            page="form_expired",
        )

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if exc.code == 413:
            _forget_body()
        response = make_response(
            error_response(exc.code or 500, _http_error_code(exc.code), exc.description or exc.name)
        )
        if exc.code == 405 and (allowed := dict(exc.get_headers()).get("Allow")):
            response.headers["Allow"] = allowed  # RFC 9110 §15.5.6: a 405 names what is allowed
        return response

    def _unavailable(exc: Exception):
        # Shared state (rate limits, replay caches) fails closed: refuse, and say when to retry.
        log.error("store_unavailable", error=type(exc).__name__, path=request.path)
        response = make_response(
            error_response(503, "temporarily_unavailable", "The service is busy. Try again in a few seconds.")
        )
        response.headers["Retry-After"] = str(UNAVAILABLE_RETRY_AFTER_S)
        return response

    for kind in redis_client.unavailable_errors():
        app.register_error_handler(kind, _unavailable)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled_error", path=request.path, error=type(exc).__name__)
        return error_response(500, "server_error", "Something went wrong on our side.")


def _forget_body() -> None:
    """After a 413 the body must not be read again: a hook that reads `request.values` once the
    error page is built would raise 413 anew, outside any handler, and turn it into a 500."""
    empty = request.parameter_storage_class()
    request.__dict__.update(form=empty, files=empty)  # werkzeug's cached_property slots
    request._cached_data = b""


def _http_error_code(status: int | None) -> str:
    return {
        400: "invalid_request",
        401: "unauthorized",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        413: "invalid_request",
        429: "rate_limited",
    }.get(status or 500, "server_error")
