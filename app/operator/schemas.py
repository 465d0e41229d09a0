"""Request schemas for the operator pages' form posts. Unknown fields are rejected; the CSRF token
is checked by Flask-WTF before a view runs, so the schemas drop it."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load

from core.uinfin import is_valid_uinfin

CSRF_FIELD = "csrf_token"


class FormSchema(Schema):
    """A form post: fields as declared, nothing else but the CSRF token."""

    class Meta:
        unknown = RAISE

    @pre_load
    def _drop_csrf_token(self, data: Any, **_: Any) -> dict[str, Any]:
        return {key: value for key, value in data.items() if key != CSRF_FIELD}


def _national_id(value: str) -> None:
    if not value:
        raise ValidationError("Enter an NRIC or FIN")
    if not is_valid_uinfin(value):
        raise ValidationError("Enter a valid NRIC or FIN, like S1234567D")


class LookupForm(FormSchema):
    uinfin = fields.String(
        required=True,
        validate=_national_id,
        error_messages={"required": "Enter an NRIC or FIN"},
    )

    @pre_load
    def _normalise(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        if isinstance(data.get("uinfin"), str):
            data = {**data, "uinfin": data["uinfin"].strip().upper()}
        return data


class ActionForm(FormSchema):
    """A button press (refresh, sign out): no fields."""
