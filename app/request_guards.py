"""What every request gets checked for before any view sees it, so that a hostile request is the
caller's mistake (4xx) whatever route it reaches, never a 500 from the database underneath.

- Integers in paths (`<int:...>`) are 0 to 2^63 - 1, the range of a 64-bit signed column; any
  other value matches no route (404). Query integers use `DB_INT` in their schemas (400).
- A NUL character anywhere in the path, a query parameter or a form field is refused (400):
  PostgreSQL can neither store nor compare it, and nothing this service accepts contains one.
- A body over MAX_CONTENT_LENGTH is refused (413) before it is read.
"""

from __future__ import annotations

from flask import Flask, abort, request
from marshmallow import validate
from werkzeug.routing import IntegerConverter

from core.errors import ValidationFailed

MAX_DB_INT = 2**63 - 1
DB_INT = validate.Range(min=0, max=MAX_DB_INT, error="Must be a whole number from 0 to 2^63 - 1")
"""The range of a marshmallow Integer that reaches the database (add a tighter one if needed)."""

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class DbIntConverter(IntegerConverter):
    """`<int:...>` bounded to what a BIGINT column holds: larger numbers match no route."""

    def __init__(self, map, fixed_digits: int = 0, min: int | None = 0, max: int | None = MAX_DB_INT) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max)


def init_request_guards(app: Flask) -> None:
    """Install the bounded integer converter (before any blueprint is registered) and the checks
    above, first among the before-request hooks."""
    app.url_map.converters["int"] = DbIntConverter
    app.before_request_funcs.setdefault(None, []).insert(0, _refuse_hostile_input)


def _refuse_hostile_input() -> None:
    limit = request.max_content_length
    if limit is not None and request.content_length is not None and request.content_length > limit:
        abort(413)
    # ValidationFailed, not abort(400): each blueprint answers it in its own shape (OAuth's too).
    if "\x00" in request.path or _has_nul(request.args):
        raise ValidationFailed("the address contains a NUL character")
    if request.mimetype in FORM_TYPES:
        if request.mimetype == FORM_TYPES[0]:
            # Keep the raw body: a view that checks a signature over it still can read it.
            request.get_data(cache=True)
        if _has_nul(request.form):
            raise ValidationFailed("the form contains a NUL character")


def _has_nul(values) -> bool:
    return any("\x00" in key or "\x00" in value for key, value in values.items(multi=True))
