"""The consent form: share (some or all optional fields, remembered for a chosen period) or not."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_babel import lazy_gettext as _l
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
    "request": _l("Only for this request"),
    "1m": _l("1 month"),
    "3m": _l("3 months"),
    "6m": _l("6 months"),
    "12m": _l("12 months"),
}


class ConsentForm(FormSchema):
    decision = fields.String(
        required=True,
        validate=validate.OneOf(("approve", "decline"), error=_l("Choose to share or not to share")),
        error_messages={"required": _l("Choose to share or not to share")},
    )
    attributes = fields.List(fields.String(validate=validate.Length(max=100)), load_default=list)
    remember = fields.String(
        load_default="request",
        validate=validate.OneOf(tuple(REMEMBER), error=_l("Choose how long to remember this")),
    )


def form_data(form: MultiDict[str, str]) -> dict[str, Any]:
    """The posted form as the schema takes it: ticked checkboxes as a list, the rest single."""
    return {key: form.getlist(key) if key == "attributes" else form[key] for key in form}
