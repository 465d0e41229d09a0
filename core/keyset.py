"""Opaque keyset-pagination cursors: (timestamp, tie-breaking key) of the last row of a page, so
the next page starts strictly after it in `ORDER BY stamp DESC, key DESC` order. Opaque to
clients, not secret: a forged cursor only moves where a citizen's own list starts."""

from __future__ import annotations

import base64
import datetime as dt
from typing import TypeVar

from .errors import ValidationFailed

K = TypeVar("K", str, int)


def encode_cursor(stamp: dt.datetime, key: str | int) -> str:
    raw = f"{stamp.isoformat()}|{key}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, key_type: type[K]) -> tuple[dt.datetime, K]:
    """The (stamp, key) in `cursor`; ValidationFailed naming `cursor` for anything we did not issue."""
    try:
        stamp, key = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split("|")
        when = dt.datetime.fromisoformat(stamp)
        if when.tzinfo is None:
            raise ValueError("naive")
        return when, key_type(key)
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed("invalid cursor", {"cursor": ["not a cursor this service issued"]}) from None
