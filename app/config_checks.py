"""Verdicts on secrets, as production judges them: Flask-free helpers for `Config.check()` and
`consentry check-config`.

Keys are compared by their key material, never as strings: an audit key is the published demo
key when its public key is, whatever its PEM whitespace; a master key is the demo key when its
bytes are, under any kid. Text secrets need a length and an entropy estimate:

- keys (SECRET_KEY, LOOKUP_KEY, METRICS_TOKEN when set, AGENCY_KEY_*, AGENCY_NOTIFY_SECRET_*): at
  least 32 characters and 128 estimated bits; `secrets.token_urlsafe(32)` gives 43 characters and
  about 200. (No password is configured: staff and citizens choose their own, identity/passwords.py.)

The estimate is the Shannon entropy of the secret's own characters times its length. It catches
repetition and tiny alphabets (one character repeated is 0 bits), not a guessable phrase; and no
secret may hold a published demo value, whatever its case or surrounding whitespace. A problem
never quotes the secret.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from audit.checkpoint_signing import load_private_key_pem
from core.crypto.keyring import KEY_BYTES, b64d

MIN_KEY_CHARS, MIN_KEY_BITS = 32, 128
# 32 random bytes hold about 30 distinct values; fewer than 16 is a pattern, not a random key.
MIN_DISTINCT_KEY_BYTES = 16
# How to make good ones, said once under a refusal (never per variable).
HOW_TO_GENERATE = (
    "keys: python -c 'import secrets; print(secrets.token_urlsafe(32))'; "
    "master keys: python -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())'"
)
_BASE64URL = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")
_PEM = re.compile(r"-----BEGIN ([A-Z ]+)-----(.*?)-----END \1-----", re.DOTALL)


@dataclass(frozen=True)
class Verdict:
    """One variable's verdict: OK when `problems` is empty."""

    variable: str
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    def line(self) -> str:
        return f"{self.variable}: {'; '.join(self.problems)}"


def estimated_bits(value: str) -> float:
    """Shannon entropy of the characters of `value` (bits per character) times its length."""
    if not value:
        return 0.0
    counts, n = Counter(value), len(value)
    per_char = -sum(c / n * math.log2(c / n) for c in counts.values())
    return per_char * n


def text_secret_problems(
    value: str, *, min_chars: int, min_bits: int, published: Iterable[str]
) -> tuple[str, ...]:
    """Why `value` is not a production secret: empty, short, low entropy or holding a demo value."""
    stripped = value.strip()
    if not stripped:
        return ("empty",)
    problems = []
    folded = stripped.casefold()
    if any(demo.casefold() in folded for demo in published):
        problems.append("holds a published demo value")
    if len(stripped) < min_chars:
        problems.append(f"too short: {len(stripped)} characters, at least {min_chars} needed")
    if len(set(stripped)) == 1:
        problems.append("one character repeated")
    elif (bits := estimated_bits(stripped)) < min_bits:
        problems.append(f"too predictable: about {bits:.0f} bits estimated, at least {min_bits} needed")
    return tuple(problems)


def key_problems(value: str, published: Iterable[str]) -> tuple[str, ...]:
    return text_secret_problems(value, min_chars=MIN_KEY_CHARS, min_bits=MIN_KEY_BITS, published=published)


def parse_master_keys(spec: str) -> tuple[list[tuple[str, bytes]], list[str]]:
    """(kid, key bytes) of each `kid:base64url` entry, decoded as the keyring decodes them, and
    the entries that cannot be decoded (named by kid or position, never by value)."""
    entries: list[tuple[str, bytes]] = []
    problems: list[str] = []
    for n, part in enumerate(filter(None, (p.strip() for p in spec.split(","))), start=1):
        kid, sep, encoded = part.partition(":")
        if not sep or not kid:
            problems.append(f"entry {n} is not 'kid:base64url'")
            continue
        if not _BASE64URL.match(encoded):
            problems.append(f"key {kid!r} is not base64url")
            continue
        try:
            entries.append((kid, b64d(encoded)))
        except ValueError:
            problems.append(f"key {kid!r} is not base64url")
    return entries, problems


def master_key_problems(spec: str, active_kid: str | None, *, demo_spec: str) -> tuple[str, ...]:
    """Every MASTER_KEYS problem: undecodable, not 32 bytes, the demo key under any kid, a kid or
    a key given twice, low entropy; and an ACTIVE_MASTER_KID that names no key."""
    entries, problems = parse_master_keys(spec)
    if not entries and not problems:
        return ("empty: no master key configured",)
    demo = {key for _, key in parse_master_keys(demo_spec)[0]}
    kids: Counter[str] = Counter(kid for kid, _ in entries)
    problems += [f"kid {kid!r} is given {count} times" for kid, count in kids.items() if count > 1]
    seen: dict[bytes, str] = {}
    for kid, key in entries:
        if key in demo:
            problems.append(f"key {kid!r} is the published demo master key")
        elif key in seen:
            problems.append(f"key {kid!r} is the same key as {seen[key]!r}")
        if len(key) != KEY_BYTES:
            problems.append(f"key {kid!r} is {len(key)} bytes, not {KEY_BYTES}")
        elif key not in demo and (distinct := len(set(key))) < MIN_DISTINCT_KEY_BYTES:
            problems.append(f"key {kid!r} has low entropy: only {distinct} distinct byte values")
        elif key not in demo and all(0x20 <= b < 0x7F for b in key):
            problems.append(f"key {kid!r} is printable text, not random bytes")
        seen.setdefault(key, kid)
    if active_kid is not None and active_kid not in kids:
        problems.append(f"ACTIVE_MASTER_KID {active_kid!r} names no key here")
    return tuple(problems)


def audit_key_problems(pem: str, *, demo_pem: str) -> tuple[str, ...]:
    """The audit signing key must load as an Ed25519 private key (PKCS#8 PEM) and not be the
    published demo key: compared by public key, so whitespace and line breaks do not matter."""
    if not pem.strip():
        return ("empty: an Ed25519 private key in PEM (PKCS#8) is needed",)
    demo_public = _public_bytes(load_private_key_pem(demo_pem.encode()))
    tolerant = _load_tolerantly(pem)
    if tolerant is not None and _public_bytes(tolerant) == demo_public:
        return ("is the published demo audit signing key",)
    try:
        load_private_key_pem(pem.encode())
    except (ValueError, TypeError):
        return ("not an Ed25519 private key in PEM (PKCS#8, unencrypted)",)
    return ()


def _load_tolerantly(pem: str) -> Ed25519PrivateKey | None:
    """The key of a PEM whose whitespace was changed (lines re-wrapped or indented, the final
    newline dropped, spaces added); None when even that does not parse."""
    match = _PEM.search(pem)
    if match is None:
        return None
    body = "".join(match.group(2).split())
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    text = "\n".join([f"-----BEGIN {match.group(1)}-----", *lines, f"-----END {match.group(1)}-----", ""])
    try:
        return load_private_key_pem(text.encode())
    except (ValueError, TypeError):
        return None


def _public_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
