"""The consent form: share (some or all optional fields, remembered for a chosen period) or not."""

from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import fields, validate
from werkzeug.datastructures import MultiDict

from ..operator.schemas import FormSchema

# The choices offered for remembering a consent; "request" (the default) remembers nothing.
REMEMBER = {
    "request": None,
    "1m": dt.timedelta(days=30),
    "3m": dt.timedelta(days=91),
    "6m": dt.timedelta(days=183),
    "12m": dt.timedelta(days=365),
}
REMEMBER_LABELS = {
    "request": "Only for this request",
    "1m": "1 month",
    "3m": "3 months",
    "6m": "6 months",
    "12m": "12 months",
}


class ConsentForm(FormSchema):
    decision = fields.String(
        required=True,
        validate=validate.OneOf(("approve", "decline"), error="Choose to share or not to share"),
        error_messages={"required": "Choose to share or not to share"},
    )
    attributes = fields.List(fields.String(validate=validate.Length(max=100)), load_default=list)
    remember = fields.String(
        load_default="request",
        validate=validate.OneOf(tuple(REMEMBER), error="Choose how long to remember this"),
    )


def form_data(form: MultiDict[str, str]) -> dict[str, Any]:
    """The posted form as the schema takes it: ticked checkboxes as a list, the rest single."""
    return {key: form.getlist(key) if key == "attributes" else form[key] for key in form}
