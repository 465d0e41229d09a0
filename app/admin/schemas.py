"""Request schemas for the admin pages' form posts: the registration form (one field per setting)
and the imported registration document (pasted JSON in one textarea). This layer only checks the
posts' shape and turns them into a registration document; consent.apps validates that with the
same schema the CLI uses."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

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


# The registration form: one field per setting, purposes as numbered groups of fields.

MAX_PURPOSES = 10
PURPOSE_FIELD = re.compile(r"^purpose-([0-9])-(id|description|required|optional)$")
KEY_SOURCES = ("jwks", "jwks_uri")
FORM_ACTIONS = ("register", "add-purpose")


class PurposeFields(Schema):
    class Meta:
        unknown = RAISE

    id = fields.String(load_default="", validate=validate.Length(max=100))
    description = fields.String(load_default="", validate=validate.Length(max=500))
    required = fields.List(fields.String(validate=validate.Length(max=64)), load_default=list)
    optional = fields.List(fields.String(validate=validate.Length(max=64)), load_default=list)


class AppForm(FormSchema):
    """The registration form as posted (see `form_payload`); consent.apps judges the settings."""

    client_id = fields.String(load_default="", validate=validate.Length(max=100))
    name = fields.String(load_default="", validate=validate.Length(max=200))
    agency = fields.String(load_default="", validate=validate.Length(max=200))
    redirect_uris = fields.String(load_default="", validate=validate.Length(max=5000))
    keys = fields.String(
        required=True,
        validate=validate.OneOf(KEY_SOURCES, error="Choose how you give the app's public keys"),
        error_messages={"required": "Choose how you give the app's public keys"},
    )
    jwks = fields.String(load_default="", validate=validate.Length(max=MAX_DOCUMENT_CHARS))
    jwks_uri = fields.String(load_default="", validate=validate.Length(max=500))
    webhook_url = fields.String(load_default="", validate=validate.Length(max=500))
    profiles = fields.List(fields.String(), load_default=list)
    purposes = fields.List(fields.Nested(PurposeFields), load_default=list)
    action = fields.String(load_default="register", validate=validate.OneOf(FORM_ACTIONS))


WEBHOOK_ACTIONS = ("save", "remove")


class WebhookForm(FormSchema):
    """The app's webhook page: an address to save, or the remove button (the address ignored)."""

    webhook_url = fields.String(load_default="", validate=validate.Length(max=500))
    action = fields.String(load_default="save", validate=validate.OneOf(WEBHOOK_ACTIONS))


def form_payload(form: Mapping[str, Any]) -> dict[str, Any]:
    """A posted MultiDict as AppForm loads it: lists for the multi-valued fields, `purpose-N-*`
    gathered into `purposes` (in N order; at most MAX_PURPOSES). Unknown fields pass through,
    for the schema to refuse."""
    payload: dict[str, Any] = {}
    purposes: dict[int, dict[str, Any]] = {}
    for key in form:
        if match := PURPOSE_FIELD.match(key):
            n, name = int(match[1]), match[2]
            multi = name in ("required", "optional")
            purposes.setdefault(n, {})[name] = form.getlist(key) if multi else form.get(key)
        elif key == "profiles":
            payload[key] = form.getlist(key)
        else:
            payload[key] = form.get(key)
    payload["purposes"] = [purposes[n] for n in sorted(purposes)][:MAX_PURPOSES]
    return payload
