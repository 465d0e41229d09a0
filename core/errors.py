"""Domain errors. Services raise these; app/errors.py maps them to HTTP responses and pages.

Messages must never contain personal data: they reach logs and API callers.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base for every error a service raises on purpose."""

    code = "domain_error"

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


class ValidationFailed(DomainError):
    """Input rejected; `errors` maps a field (or `line N`) to reasons."""

    code = "invalid_request"

    def __init__(self, message: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or {}


class Unauthorized(DomainError):
    code = "unauthorized"


class CryptoError(DomainError):
    """A ciphertext failed authentication or no key could open it. Never retried silently."""

    code = "crypto_error"


class ConfigurationError(DomainError):
    code = "configuration_error"
