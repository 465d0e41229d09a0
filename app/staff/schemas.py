"""Request schemas for staff: sign-in, adding a member (admin page), and the reason an operator
gives for opening a citizen's record. Unknown fields are rejected; the CSRF token is checked by
Flask-WTF before a view runs."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, pre_load, validate, validates_schema

from identity.staff import MAX_PASSWORD, MIN_PASSWORD, USERNAME, USERNAME_RULE
from identity.staff_models import STAFF_ROLES

from ..auditor.schemas import LOOKS_LIKE_NATIONAL_ID
from ..form_fields import authenticator_code, current_password, tidied
from ..operator.schemas import FormSchema, LookupForm

# Why a member of staff opens a citizen's record: the audit log and the citizen see this.
REASONS = {
    "support_case": "Support case",
    "correction_request": "Correction request",
    "legal_request": "Legal request",
    "other": "Other",
}
MAX_REASON_TEXT = 200
ROLE_NAMES = {"operator": "Operator", "admin": "App admin", "auditor": "Auditor"}


class StaffSignInForm(FormSchema):
    username = fields.String(
        required=True,
        validate=validate.Length(min=1, max=64, error="Enter your username"),
        error_messages={"required": "Enter your username"},
    )
    password = current_password(MAX_PASSWORD)
    code = authenticator_code()
    next = fields.String(load_default=None)

    @pre_load
    def _tidy(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return tidied(data, upper=(), lower=("username",))


class AddStaffForm(FormSchema):
    """The admin page's new member: every problem reported at once, by field."""

    username = fields.String(
        required=True,
        validate=validate.Regexp(USERNAME.pattern + "$", error=f"Enter a username: {USERNAME_RULE}"),
        error_messages={"required": f"Enter a username: {USERNAME_RULE}"},
    )
    password = fields.String(
        required=True,
        validate=validate.Length(
            min=MIN_PASSWORD,
            max=MAX_PASSWORD,
            error=f"Enter a password of {MIN_PASSWORD} to {MAX_PASSWORD} characters",
        ),
        error_messages={"required": f"Enter a password of {MIN_PASSWORD} to {MAX_PASSWORD} characters"},
    )
    roles = fields.List(
        fields.String(validate=validate.OneOf(STAFF_ROLES, error="Choose roles from the list")),
        required=True,
        validate=validate.Length(min=1, error="Choose at least one role"),
        error_messages={"required": "Choose at least one role"},
    )


def _no_national_id(value: str) -> None:
    # The reason goes into the audit log and the citizen's history: never a national id.
    if LOOKS_LIKE_NATIONAL_ID.search(value):
        raise ValidationError("Do not put an NRIC or FIN in the reason")


class LookupWithReasonForm(LookupForm):
    """Find a citizen, saying why: a reason from REASONS; free text required for "other"."""

    reason = fields.String(
        required=True,
        validate=validate.OneOf(list(REASONS), error="Choose why you are looking at this record"),
        error_messages={"required": "Choose why you are looking at this record"},
    )
    reason_text = fields.String(
        load_default="",
        validate=[
            validate.Length(
                max=MAX_REASON_TEXT, error=f"Describe the reason in at most {MAX_REASON_TEXT} characters"
            ),
            _no_national_id,
        ],
    )

    @pre_load
    def _strip_reason(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        if isinstance(data.get("reason_text"), str):
            data = {**data, "reason_text": data["reason_text"].strip()}
        return data

    @validates_schema(skip_on_field_errors=False)
    def _other_needs_text(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("reason") == "other" and not data.get("reason_text"):
            raise ValidationError("Describe the reason", field_name="reason_text")


class RevealForm(FormSchema):
    attribute = fields.String(required=True, validate=validate.Length(min=1, max=100))


def reason_words(reason: str, text: str) -> str:
    """The reason as the audit log and the citizen read it: the label, then the free text if any."""
    label = REASONS[reason]
    return f"{label}: {text}" if text else label
