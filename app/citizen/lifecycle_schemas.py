"""Forms of the consent-lifecycle and "This wasn't me" pages (app/citizen/lifecycle.py). Unknown
fields are rejected; the CSRF token is checked by Flask-WTF before the view runs."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from marshmallow import fields, validate

from audit.disclosure_reports import NOTE_MAX

from ..operator.schemas import FormSchema

CHOOSE = _l("Choose what to stop sharing")
TOO_LONG = _l("Your note must be %(count)s characters or fewer", count=NOTE_MAX)


class NarrowForm(FormSchema):
    drop = fields.String(
        required=True,
        validate=validate.Length(min=1, max=100, error=CHOOSE),
        error_messages={"required": CHOOSE},
    )


class ReportForm(FormSchema):
    note = fields.String(
        load_default="",
        validate=validate.Length(max=NOTE_MAX, error=TOO_LONG),
    )
