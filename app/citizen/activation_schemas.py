"""Forms of the activation, recovery and close-account pages. Unknown fields are rejected; the
CSRF token is checked by Flask-WTF before the view runs; nothing here names the citizen except
the national id they type (identity between pages lives server-side, never in a hidden field)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from marshmallow import fields, pre_load, validate

from ..form_fields import authenticator_code, current_password, tidied
from ..operator.schemas import FormSchema
from .schemas import ENTER_ID, _national_id

ENTER_ACTIVATION = _l("Enter the activation code from your letter")
ENTER_RECOVERY = _l("Enter one of your recovery codes")
ENTER_PASSWORD = _l("Enter a password")


class ActivateForm(FormSchema):
    uinfin = fields.String(required=True, validate=_national_id, error_messages={"required": ENTER_ID})
    code = fields.String(
        required=True,
        validate=validate.Length(min=1, max=40, error=ENTER_ACTIVATION),
        error_messages={"required": ENTER_ACTIVATION},
    )

    @pre_load
    def _tidy(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return tidied(data)


class PasswordForm(FormSchema):
    password = fields.String(
        required=True,
        validate=validate.Length(min=1, max=1000, error=ENTER_PASSWORD),
        error_messages={"required": ENTER_PASSWORD},
    )
    confirm = fields.String(
        required=True,
        validate=validate.Length(min=1, max=1000, error=_l("Enter the password again")),
        error_messages={"required": _l("Enter the password again")},
    )


class CodeForm(FormSchema):
    code = authenticator_code()

    @pre_load
    def _tidy(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return tidied(data)


class RecoverForm(FormSchema):
    uinfin = fields.String(required=True, validate=_national_id, error_messages={"required": ENTER_ID})
    password = current_password()
    recovery_code = fields.String(
        required=True,
        validate=validate.Length(min=1, max=40, error=ENTER_RECOVERY),
        error_messages={"required": ENTER_RECOVERY},
    )

    @pre_load
    def _tidy(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return tidied(data)
