"""marshmallow fields the citizen and staff sign-in, activation and recovery forms share, and the
tidying of what people type before those fields check it. Messages are lazy gettext strings:
citizen pages show them in the citizen's language, staff pages always in English (app/i18n.py)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask_babel import lazy_gettext as _l
from marshmallow import fields, validate

ENTER_CODE = _l("Enter the 6-digit code from your authenticator app")
ENTER_YOUR_PASSWORD = _l("Enter your password")


def authenticator_code() -> fields.String:
    """The 6 digits an authenticator app (TOTP) shows."""
    return fields.String(
        required=True,
        validate=validate.Regexp(r"^[0-9]{6}$", error=ENTER_CODE),
        error_messages={"required": ENTER_CODE},
    )


def current_password(max_length: int = 200) -> fields.String:
    """A password typed to sign in: any non-empty text up to `max_length` (the hash judges it)."""
    return fields.String(
        required=True,
        validate=validate.Length(min=1, max=max_length, error=ENTER_YOUR_PASSWORD),
        error_messages={"required": ENTER_YOUR_PASSWORD},
    )


def tidied(data: Any, *, upper: Iterable[str] = ("uinfin",), lower: Iterable[str] = ()) -> dict[str, Any]:
    """People type ids with stray spaces and in either case, and codes as "123 456": the posted
    form with `upper` fields stripped and upper-cased, `lower` ones stripped and lower-cased, and
    spaces taken out of `code`."""
    tidy = dict(data)
    for names, case in ((upper, str.upper), (lower, str.lower)):
        for name in names:
            if isinstance(tidy.get(name), str):
                tidy[name] = case(tidy[name].strip())
    if isinstance(tidy.get("code"), str):
        tidy["code"] = tidy["code"].replace(" ", "")
    return tidy
