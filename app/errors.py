"""All error responses in one place: JSON for machine callers, GOV.UK-styled pages for people.

Caller mistakes are 4xx; messages carry no personal data.
"""

from __future__ import annotations

import structlog
from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

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
JSON_PREFIXES = ("/api/", "/agency-notifications/", "/com/", "/.well-known/")
# Myinfo v5's machine endpoints; /fapi/auth is the citizen's browser and gets pages.
JSON_PREFIXES += ("/fapi/par", "/fapi/token", "/fapi/userinfo", "/fapi/.well-known/")


def wants_json() -> bool:
    return request.path.startswith(JSON_PREFIXES) or request.accept_mimetypes.best == "application/json"


def error_response(status: int, error: str, description: str, errors: dict | None = None):
    if wants_json():
        body = {"error": error, "error_description": description}
        if errors:
            body["errors"] = errors
        return jsonify(body), status
    return render_template("error.html", status=status, title=description, errors=errors or {}), status


def init_errors(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(exc: DomainError):
        if isinstance(exc, CryptoError | ConfigurationError):
            log.error("integrity_failure", error=exc.code, detail=exc.message, path=request.path)
            return error_response(500, "server_error", "Stored data failed an integrity check.")
        status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 400)
        return error_response(status, exc.code, exc.message, getattr(exc, "errors", None))

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError):
        return error_response(
            400, "invalid_request", "The form expired or was not sent by this site. Try again."
        )

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        response = error_response(exc.code or 500, _http_error_code(exc.code), exc.description or exc.name)
        if exc.code == 405 and (allowed := exc.get_headers()):
            for name, value in allowed:
                if name == "Allow":
                    response[0].headers["Allow"] = value
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled_error", path=request.path, error=type(exc).__name__)
        return error_response(500, "server_error", "Something went wrong on our side.")


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
