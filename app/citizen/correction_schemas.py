"""Schemas of 'Report a mistake' and the national id's 'Show' (the citizen's forms).

The form posts carry the CSRF token (checked by Flask-WTF before the view) and nothing but the
fields named here. Text is capped far above the service's limits, so the service says which field
is too long in words (profile_store/corrections.py); the cap only stops absurd bodies early.
`submission` is the random token the form page made: a double submit finds its first request.
"""

from __future__ import annotations

from typing import Any

from marshmallow import fields, pre_load, validate

from ..operator.schemas import FormSchema

RAW_CAP = 20_000
SUBMISSION = r"^[A-Za-z0-9_-]{16,64}$"


class CorrectionForm(FormSchema):
    what = fields.String(load_default="", validate=validate.Length(max=RAW_CAP))
    correct_value = fields.String(load_default="", validate=validate.Length(max=RAW_CAP))
    note = fields.String(load_default="", validate=validate.Length(max=RAW_CAP))
    submission = fields.String(required=True, validate=validate.Regexp(SUBMISSION))


class StepUpForm(FormSchema):
    """The authenticator code that a 'Show' older than five minutes after sign-in asks for."""

    code = fields.String(load_default="", validate=validate.Regexp(r"^[0-9]{6}$"))

    @pre_load
    def _tidy(self, data: Any, **_: Any) -> dict[str, Any]:
        tidy = dict(data)
        if isinstance(tidy.get("code"), str):
            tidy["code"] = tidy["code"].replace(" ", "").strip()  # codes are read out as "123 456"
        return tidy
