"""Checks every kind of account shares (citizens, staff, auditors): argon2id password hashes, a
dummy hash so that an unknown name costs what a known one does, and the TOTP time step a code
belongs to. Flask-free; the account modules keep their own records and replay rules."""

from __future__ import annotations

import datetime as dt
import functools
import hmac
import re

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

TOTP_WINDOW = 1  # accept the previous and next 30-second step too (clock drift)
TOTP_CODE = re.compile(r"[0-9]{6}")
hasher = PasswordHasher()


def password_matches(password_hash: str, password: str) -> bool:
    """True when `password` is the one `password_hash` was made from; False for a wrong password
    or a hash that is not an argon2 hash."""
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def dummy_hash() -> str:
    """A hash to check a password against when the account does not exist. Made on first use,
    not at import, so importing stays cheap."""
    return hasher.hash("not-a-password-of-anyone")


def matching_step(totp: pyotp.TOTP, code: object, now: dt.datetime) -> int | None:
    """The time step whose code equals `code`, within the window around `now`, or None. Later
    steps win: a replay check against the last used step must not be fooled by an earlier match."""
    if not isinstance(code, str) or not TOTP_CODE.fullmatch(code):
        return None
    current = totp.timecode(now)
    for step in range(current + TOTP_WINDOW, current - TOTP_WINDOW - 1, -1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None
