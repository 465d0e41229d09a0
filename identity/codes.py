"""Short one-time codes (activation codes, recovery codes): made from a random source, typed by
people, stored only as HMAC-SHA256 under a server key.

The alphabet is Crockford-like base32 without I, L, O and U (no 0/O or 1/I/L mix-ups): 5 bits a
character. An activation code has 12 characters (60 bits), a recovery code 10 (50 bits), shown in
groups of four or five. A keyed hash is enough for codes this random that are also limited in
tries: an argon2 hash would only slow down each attempt, and without the key a stolen table is
useless for guessing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ0123456789"
_SAME = str.maketrans({"O": "0", "I": "1", "L": "1", "U": "V"})


def new_code(length: int, *, group: int) -> str:
    """A fresh random code of `length` characters, grouped by hyphens every `group`."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(length))
    return "-".join(raw[i : i + group] for i in range(0, length, group))


def normalise(code: str) -> str:
    """A typed code as stored: upper case, no spaces or hyphens, look-alike letters mapped."""
    return "".join(ch for ch in (code or "").upper() if ch.isalnum()).translate(_SAME)


def code_digest(key: bytes, purpose: str, code: str) -> str:
    """HMAC-SHA256 (hex) of the normalised code, with its purpose bound in."""
    message = f"{purpose}\x1f{normalise(code)}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
