"""Structured JSON logs with a request id. Personal data never goes in: log pseudonymous citizen ids,
attribute names and error codes only."""

from __future__ import annotations

import logging
import re
import uuid

import structlog
from flask import Flask, Response, g, request

_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
REDACTED_KEYS = frozenset({"uinfin", "password", "token", "value", "secret", "api_key"})


def _redact(_logger, _name, event: dict) -> dict:
    for key in REDACTED_KEYS & event.keys():
        event[key] = "[redacted]"
    return event


def init_logging(app: Flask) -> None:
    if not structlog.is_configured():
        structlog.configure(
            processors=[
                structlog.contextvars.merge_contextvars,
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                _redact,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(),
            ],
            logger_factory=structlog.PrintLoggerFactory(),
            wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        )

    @app.before_request
    def _bind_request_id() -> None:
        given = request.headers.get("X-Request-Id", "")
        g.request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=g.request_id)

    @app.after_request
    def _echo_request_id(response: Response) -> Response:
        response.headers["X-Request-Id"] = g.get("request_id", "")
        return response
