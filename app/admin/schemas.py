"""Request schemas for the admin pages' form posts. The registration document arrives as pasted
JSON in one textarea; this layer only turns it into a JSON object, and consent.apps validates it
with the same schema the CLI uses."""

from __future__ import annotations

import json
from typing import Any

from marshmallow import ValidationError, fields

from ..operator.schemas import FormSchema

MAX_DOCUMENT_CHARS = 100_000
PASTE_DOCUMENT = "Paste the app's registration document"


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed in JSON")


class JsonObjectField(fields.Field):
    """Text that must parse as one JSON object; the error names where parsing stopped."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict[str, Any]:
        if not isinstance(value, str) or not value.strip():
            raise ValidationError(PASTE_DOCUMENT)
        if len(value) > MAX_DOCUMENT_CHARS:
            raise ValidationError(f"The document must be at most {MAX_DOCUMENT_CHARS:,} characters")
        try:
            document = json.loads(value, parse_constant=_no_constant)
        except json.JSONDecodeError as exc:
            raise ValidationError(
                f"The document is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
            ) from None
        except (ValueError, RecursionError) as exc:
            # NaN/Infinity, or nesting deeper than the parser goes.
            reason = str(exc) if isinstance(exc, ValueError) else "it is nested too deeply"
            raise ValidationError(f"The document is not valid JSON: {reason}") from None
        if not isinstance(document, dict):
            raise ValidationError("The document must be one JSON object, starting with {")
        return document


class RegistrationForm(FormSchema):
    document = JsonObjectField(required=True, error_messages={"required": PASTE_DOCUMENT})
