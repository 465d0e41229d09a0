"""Singapore national ids (NRIC for citizens and PRs, FIN for foreigners).

Format: a prefix letter (S, T: NRIC; F, G, M: FIN), seven digits, and a check letter computed from
the digits with the published weights. The M series (issued from 2022) uses its own offset and
check-letter table.

`demo_uinfin(n)` enumerates valid demo NRICs deterministically, so demo data, tests and benchmarks
all agree on who "citizen n" is without storing a list.
"""

from __future__ import annotations

import re

_FORMAT = re.compile(r"[STFGM][0-9]{7}[A-Z]")
_WEIGHTS = (2, 7, 6, 5, 4, 3, 2)
_OFFSET = {"S": 0, "T": 4, "F": 0, "G": 4, "M": 3}
# Indexed by the weighted sum modulo 11.
_TABLE_ST = "JZIHGFEDCBA"
_TABLE_FG = "XWUTRQPNMLK"
# The M series indexes its table by 10 - (sum modulo 11).
_TABLE_M = "KLJNPQRTUWX"

_SPAN = 10_000_000
DEMO_CAPACITY = 2 * _SPAN
"""How many distinct demo ids exist (every S and T number)."""
# An affine permutation of [0, DEMO_CAPACITY): the multiplier is coprime with 2**8 * 5**7, so distinct
# n give distinct ids, and neighbouring n do not give neighbouring, obviously sequential numbers.
_MULTIPLIER = 7_368_787
_INCREMENT = 4_251_917


def check_letter(prefix: str, digits: str) -> str:
    """The check letter for `prefix` (S/T/F/G/M) and seven `digits`; raises ValueError otherwise."""
    if prefix not in _OFFSET or len(digits) != 7 or not digits.isascii() or not digits.isdigit():
        raise ValueError("expected a prefix in STFGM and seven digits")
    total = _OFFSET[prefix] + sum(int(d) * w for d, w in zip(digits, _WEIGHTS, strict=True))
    remainder = total % 11
    if prefix == "M":
        return _TABLE_M[10 - remainder]
    return (_TABLE_ST if prefix in "ST" else _TABLE_FG)[remainder]


def is_valid_uinfin(value: object) -> bool:
    """True for a well-formed NRIC/FIN with a correct check letter. Strict: uppercase only, no
    surrounding whitespace; any non-string is False."""
    if not isinstance(value, str) or not _FORMAT.fullmatch(value):
        return False
    return check_letter(value[0], value[1:8]) == value[8]


def demo_uinfin(n: int) -> str:
    """The n-th demo NRIC (S or T prefix, valid check letter). The same n gives the same id on every
    run and machine; distinct n in [0, DEMO_CAPACITY) give distinct ids. Raises ValueError outside."""
    if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n < DEMO_CAPACITY:
        raise ValueError(f"demo index must be an int in [0, {DEMO_CAPACITY})")
    slot = (n * _MULTIPLIER + _INCREMENT) % DEMO_CAPACITY
    prefix = "S" if slot < _SPAN else "T"
    digits = f"{slot % _SPAN:07d}"
    return prefix + digits + check_letter(prefix, digits)


def partial_uinfin(uinfin: str) -> str:
    """The id with all but its last four characters masked ("S9812381D" -> "*****381D"), as MyInfo's
    `partialuinfin`. Never raises: anything of four characters or fewer is fully masked."""
    if len(uinfin) <= 4:
        return "*" * len(uinfin)
    return "*" * (len(uinfin) - 4) + uinfin[-4:]
