"""Request schema for the citizen sign-in form. Unknown fields are rejected; the CSRF token is
checked by Flask-WTF before the view runs. `next` is taken as given and checked by the view
(app.identity.safe_next): a bad one is dropped, not shown to the citizen as their mistake."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, pre_load, validate

from core.uinfin import is_valid_uinfin

from ..operator.schemas import FormSchema

ENTER_ID = "Enter your NRIC or FIN"
ENTER_CODE = "Enter the 6-digit code from your authenticator app"


def _national_id(value: str) -> None:
    if not value:
        raise ValidationError(ENTER_ID)
    if not is_valid_uinfin(value):
        raise ValidationError("Enter a valid NRIC or FIN, like S1234567D")


class SignInForm(FormSchema):
    uinfin = fields.String(required=True, validate=_national_id, error_messages={"required": ENTER_ID})
    password = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200, error="Enter your password"),
        error_messages={"required": "Enter your password"},
    )
    code = fields.String(
        required=True,
        validate=validate.Regexp(r"^[0-9]{6}$", error=ENTER_CODE),
        error_messages={"required": ENTER_CODE},
    )
    next = fields.String(load_default=None)

    @pre_load
    def _tidy(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        # People type ids in lower case with stray spaces, and codes as "123 456".
        tidy = dict(data)
        if isinstance(tidy.get("uinfin"), str):
            tidy["uinfin"] = tidy["uinfin"].strip().upper()
        if isinstance(tidy.get("code"), str):
            tidy["code"] = tidy["code"].replace(" ", "")
        return tidy
