"""The notification settings form: how (at once, daily digest, off), whether to skip notices
of releases the citizen made themselves a moment ago, and the language of the emails."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from marshmallow import fields, post_load, validate

from notifications.models import LANGUAGES
from notifications.outbox import MODES

from ..operator.schemas import FormSchema

CHOOSE = _l("Choose how you want to get notices")


class SettingsForm(FormSchema):
    mode = fields.String(
        required=True,
        validate=validate.OneOf(MODES, error=CHOOSE),
        error_messages={"required": CHOOSE},
    )
    skip_own_recent = fields.String(load_default=None, validate=validate.OneOf(["yes"]))
    # Absent: the stored language is kept (the page always sends one; a script need not).
    language = fields.String(
        load_default=None, validate=validate.OneOf(LANGUAGES, error=_l("Choose a language for emails"))
    )

    @post_load
    def _flag(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return {
            "mode": data["mode"],
            "skip_own_recent": data.get("skip_own_recent") == "yes",
            "language": data.get("language"),
        }
