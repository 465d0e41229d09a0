"""RFC 8785 JSON Canonicalization Scheme (JCS) for audit entry and checkpoint bodies.

The audit domain is str, int, bool, None, list and dict with str keys. Floats never occur in audit
data, so rather than implement ECMAScript number formatting we reject them; integers must be exact
as IEEE-754 doubles (|n| <= 2**53) so that every JCS implementation writes them identically.

`canonical_json` is on the verifier's per-entry path, so it validates with a lean walk and then
lets the stdlib's C encoder write the text: with ``ensure_ascii=False`` that encoder escapes
exactly what JCS escapes (``"``, ``\\``, controls below U+0020 as \\b \\t \\n \\f \\r or lowercase
\\u00xx) and writes integers, true, false and null as JCS does. Its key order is by code point,
which differs from JCS's UTF-16 code-unit order only for keys holding characters above U+FFFF;
such objects are written by `reference_canonical_json`, a plain reading of the RFC that the
tests also use as the oracle for the fast path.
"""

from __future__ import annotations

import json
import json.encoder
from typing import Any

MAX_SAFE_INT = 2**53
MAX_DEPTH = 100

# Built once: json.dumps() and JSONEncoder.encode() build a new C encoder on every call, which for
# small bodies costs about as much as the encoding itself.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":"))
_c_encoder = (
    json.encoder.c_make_encoder(
        None, _ENCODER.default, json.encoder.encode_basestring, None, ":", ",", True, False, False
    )
    if json.encoder.c_make_encoder is not None
    else None
)


def _reject_float(text: str) -> Any:
    raise ValueError(f"{text}: floats are not allowed in audit JSON")


def _safe_int(text: str) -> int:
    number = int(text)
    if not -MAX_SAFE_INT <= number <= MAX_SAFE_INT:
        raise ValueError(f"integer {text} is beyond +-2**53 (not exact in IEEE-754)")
    return number


_STRICT_DECODER = json.JSONDecoder(
    parse_float=_reject_float, parse_int=_safe_int, parse_constant=_reject_float
)
_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def canonical_json(value: Any) -> bytes:
    """Serialise `value` per RFC 8785 as UTF-8 bytes.

    Raises ValueError for anything outside the audit domain: floats (NaN and infinities too),
    integers beyond +-2**53, non-str keys, types other than str/int/bool/None/list/dict (and their
    subclasses), lone surrogates, and nesting deeper than MAX_DEPTH.
    """
    _check(value, 0)
    return _serialise(value)


def loads(text: str) -> Any:
    """Parse JSON text into the audit domain. Raises ValueError for malformed JSON, floats, NaN and
    infinities, and integers beyond +-2**53, so the result (and every part of it) is fit for
    `canonical_json_of_loaded`."""
    return _STRICT_DECODER.decode(text)


def canonical_json_of_loaded(value: Any) -> bytes:
    """`canonical_json` for a value returned by `loads`, or any part of one: the same bytes and
    errors, without the type walk that `loads` has made redundant (the verifier's hot path).
    Only for such values: a float, say, would be written rather than rejected."""
    encoded = _serialise(value)
    # The bracket count bounds the depth; only values that might be too deep pay for the walk.
    if encoded.count(b"[") + encoded.count(b"{") >= MAX_DEPTH:
        _check(value, 0)
    return encoded


def reference_canonical_json(value: Any) -> bytes:
    """The same bytes as `canonical_json`, by a direct reading of RFC 8785 (slower)."""
    _check(value, 0)
    try:
        return "".join(_emit(value)).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("string contains a lone surrogate") from exc


def _serialise(value: Any) -> bytes:
    """JCS bytes of a value already known to be in the domain (apart from lone surrogates)."""
    text = "".join(_c_encoder(value, 0)) if _c_encoder is not None else _ENCODER.encode(value)
    # Non-ASCII output is rare; only astral characters can make the key order differ from JCS.
    if not text.isascii() and max(text) > "\uffff" and _has_astral_key(value):
        text = "".join(_emit(value))
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("string contains a lone surrogate") from exc


def _check(value: Any, depth: int) -> None:
    """Raise ValueError unless `value` is in the audit JSON domain. Exact-type tests come first
    and scalars inside containers are checked inline, saving a call per scalar."""
    kind = type(value)
    if kind is dict:
        if depth >= MAX_DEPTH:
            raise ValueError(f"nesting deeper than {MAX_DEPTH}")
        for key, item in value.items():
            if type(key) is not str and not isinstance(key, str):
                raise ValueError(f"object key {key!r} is not a string")
            item_kind = type(item)
            if item_kind is str or item is None or item_kind is bool:
                continue
            if item_kind is int and -MAX_SAFE_INT <= item <= MAX_SAFE_INT:
                continue
            _check(item, depth + 1)
    elif kind is list:
        if depth >= MAX_DEPTH:
            raise ValueError(f"nesting deeper than {MAX_DEPTH}")
        for item in value:
            if type(item) is not str:
                _check(item, depth + 1)
    elif not (kind is str or value is None or kind is bool):
        _check_other(value, depth)


def _check_other(value: Any, depth: int) -> None:
    """Integers, and subclasses of the JSON types (StrEnum, IntEnum, OrderedDict, ...)."""
    if isinstance(value, str | bool):
        return
    if isinstance(value, int):
        if not -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
            raise ValueError(f"integer {value} is beyond +-2**53 (not exact in IEEE-754)")
    elif isinstance(value, float):
        raise ValueError("floats are not allowed in audit JSON")
    elif isinstance(value, dict):
        _check(dict(value), depth)
    elif isinstance(value, list):
        _check(list(value), depth)
    else:
        raise ValueError(f"{type(value).__name__} is not a JSON type")


def _has_astral_key(value: Any) -> bool:
    if isinstance(value, dict):
        return any(max(k, default="") > "\uffff" or _has_astral_key(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_astral_key(v) for v in value)
    return False


def _utf16_key(key: str) -> bytes:
    # Big-endian UTF-16 bytes compare in the same order as the code units (RFC 8785 3.2.3).
    return key.encode("utf-16-be", "surrogatepass")


def _emit(value: Any) -> list[str]:
    if value is None:
        return ["null"]
    if value is True:
        return ["true"]
    if value is False:
        return ["false"]
    if isinstance(value, int):
        return [str(int(value))]
    if isinstance(value, str):
        return [_quote(value)]
    if isinstance(value, list):
        return ["[", ",".join("".join(_emit(item)) for item in value), "]"]
    members = sorted(value.items(), key=lambda kv: _utf16_key(kv[0]))
    return ["{", ",".join(_quote(k) + ":" + "".join(_emit(v)) for k, v in members), "}"]


def _quote(text: str) -> str:
    out = ['"']
    for ch in text:
        if ch in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[ch])
        elif ch < " ":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)
