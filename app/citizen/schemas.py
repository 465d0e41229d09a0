"""Schemas of the citizen's pages and JSON API.

The sign-in form: unknown fields are rejected; the CSRF token is checked by Flask-WTF before the
view runs. `next` is taken as given and checked by the view (app.identity.safe_next): a bad one is
dropped, not shown to the citizen as their mistake.

The portal API: a query schema for the history's keyset pages, and response schemas."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate

from core.uinfin import is_valid_uinfin

from ..form_fields import authenticator_code, current_password, tidied
from ..operator.schemas import FormSchema

ENTER_ID = _l("Enter your NRIC or FIN")


def _national_id(value: str) -> None:
    if not value:
        raise ValidationError(str(ENTER_ID))
    if not is_valid_uinfin(value):
        raise ValidationError(_("Enter a valid NRIC or FIN, like S1234567D"))


class SignInForm(FormSchema):
    uinfin = fields.String(required=True, validate=_national_id, error_messages={"required": ENTER_ID})
    password = current_password()
    code = authenticator_code()
    next = fields.String(load_default=None)

    @pre_load
    def _tidy(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return tidied(data)


# The portal's JSON API (app/citizen/api.py): one query schema, response schemas dumped from the
# dataclasses of app/citizen/portal.py. Wire names are the attribute names unless `data_key` says.

MAX_PAGE = 100
DEFAULT_PAGE = 20


class HistoryQuery(Schema):
    """`?cursor=&limit=`; unknown parameters are refused, like malformed ones, naming the field."""

    class Meta:
        unknown = RAISE

    cursor = fields.String(validate=validate.Length(min=1, max=200, error="Not a cursor this service issued"))
    limit = fields.Integer(
        load_default=DEFAULT_PAGE,
        strict=False,
        validate=validate.Range(min=1, max=MAX_PAGE, error=f"Must be between 1 and {MAX_PAGE}"),
        error_messages={"invalid": "Must be a whole number"},
    )


class AttributeOut(Schema):
    name = fields.String(required=True)
    label = fields.String(required=True)


class AppOut(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    agency = fields.String(required=True)


class PurposeOut(Schema):
    id = fields.String(required=True, allow_none=True)
    text = fields.String(required=True)


class HistoryItemOut(Schema):
    seq = fields.Integer(required=True)
    kind = fields.String(required=True)
    time = fields.DateTime(required=True)
    app = fields.Nested(AppOut, required=True, allow_none=True)
    purpose = fields.Nested(PurposeOut, required=True)
    attributes = fields.List(fields.Nested(AttributeOut), required=True)
    consent_id = fields.String(required=True, allow_none=True)
    outcome = fields.String(required=True, allow_none=True)


class HistoryPageOut(Schema):
    entries = fields.List(fields.Nested(HistoryItemOut), required=True, attribute="items")
    next_cursor = fields.String(required=True, allow_none=True)


class ConsentOut(Schema):
    id = fields.String(required=True)
    status = fields.String(required=True)
    app = fields.Nested(AppOut, required=True)
    purpose = fields.Nested(PurposeOut, required=True)
    approved = fields.List(fields.Nested(AttributeOut), required=True)
    declined = fields.List(fields.Nested(AttributeOut), required=True)
    remembered = fields.Boolean(required=True)
    granted_at = fields.DateTime(required=True)
    expires_at = fields.DateTime(required=True)
    revoked_at = fields.DateTime(required=True, allow_none=True)


class ConsentListOut(Schema):
    consents = fields.List(fields.Nested(ConsentOut), required=True)
    next_cursor = fields.String(allow_none=True, required=True)
