"""RFC 8785 (JCS) canonical JSON, restricted to the audit domain (no floats)."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.canonical import (
    MAX_DEPTH,
    MAX_SAFE_INT,
    canonical_json,
    canonical_json_of_loaded,
    loads,
    reference_canonical_json,
)


def both(value) -> bytes:
    """The fast and the reference serialiser must agree byte for byte."""
    fast, reference = canonical_json(value), reference_canonical_json(value)
    assert fast == reference
    return fast


def test_rfc8785_key_order_is_by_utf16_code_units():
    # RFC 8785 section 3.2.3: the emoji (surrogates D83D DE00) sorts before U+FB33, although its
    # code point is larger; code-point order would put it last.
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    expected = (
        '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With '
        'Diaeresis","\u20ac":"Euro Sign","\U0001f600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter '
        'Dalet With Dagesh"}'
    ).encode()
    assert both(value) == expected


def test_rfc8785_string_escapes():
    # RFC 8785 section 3.2.2.2: only " \ and controls are escaped; / and non-ASCII pass through.
    value = json.loads(r'"\u20ac$\u000F\u000aA\u0027\u0042\u0022\u005c\\\"\/"')
    assert both(value) == '"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"'.encode()


def test_short_escapes_and_lowercase_hex_for_other_controls():
    value = "\b\t\n\f\r\x00\x1f\x7f"
    assert both(value) == b'"\\b\\t\\n\\f\\r\\u0000\\u001f\x7f"'


def test_unicode_passes_through_as_utf8():
    assert both({"name": "Tan Ah Kow 陈亚九", "emoji": "\U0001f600"}) == (
        '{"emoji":"\U0001f600","name":"Tan Ah Kow 陈亚九"}'.encode()
    )


def test_literals_ints_and_nesting_without_whitespace():
    value = {"b": [None, True, False, 0, -1, MAX_SAFE_INT, -MAX_SAFE_INT], "a": {"z": [], "y": {}}}
    assert (
        both(value) == b'{"a":{"y":{},"z":[]},"b":[null,true,false,0,-1,9007199254740992,-9007199254740992]}'
    )


def test_a_typical_entry_body():
    body = {"seq": 7, "kind": "disclosure", "attributes": ["name", "dob"], "time": "2025-01-02T03:04:05Z"}
    assert (
        both(body)
        == b'{"attributes":["name","dob"],"kind":"disclosure","seq":7,"time":"2025-01-02T03:04:05Z"}'
    )


@pytest.mark.parametrize(
    "value",
    [
        1.0,
        {"a": 0.5},
        [float("nan")],
        {"x": float("inf")},
        MAX_SAFE_INT + 1,
        {"n": -MAX_SAFE_INT - 1},
        {1: "int key"},
        {None: "null key"},
        {("a",): "tuple key"},
        ("tuple",),
        {"s": {1, 2}},
        b"bytes",
        {"lone": "\ud800"},
        {"\udfff": "lone surrogate key"},
        ["\U0001f600", "\udc00"],
    ],
)
def test_values_outside_the_audit_domain_are_rejected(value):
    with pytest.raises(ValueError):
        canonical_json(value)
    with pytest.raises(ValueError):
        reference_canonical_json(value)


def test_excessive_or_circular_nesting_is_a_value_error():
    deep: list = []
    for _ in range(200):
        deep = [deep]
    with pytest.raises(ValueError, match="nesting"):
        canonical_json(deep)
    circular: dict = {}
    circular["self"] = circular
    with pytest.raises(ValueError, match="nesting"):
        canonical_json(circular)


def test_subclasses_of_json_types_serialise_as_their_base():
    from collections import OrderedDict
    from enum import IntEnum, StrEnum

    class Kind(StrEnum):
        DISCLOSURE = "disclosure"

    class Level(IntEnum):
        HIGH = 3

    value = OrderedDict([("z", Level.HIGH), ("a", Kind.DISCLOSURE)])
    assert both(value) == b'{"a":"disclosure","z":3}'


# Keys drawn partly from the characters whose order differs between code points and UTF-16.
_keys = st.text(max_size=6) | st.sampled_from(
    ["", "a", "\ufb33", "\uffff", "\ue000", "\U0001f600", "\U00010000"]
)
_scalars = st.none() | st.booleans() | st.integers(-MAX_SAFE_INT, MAX_SAFE_INT) | st.text(max_size=12)
json_values = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(_keys, children, max_size=6),
    max_leaves=25,
)


def _reversed_insertion(value):
    if isinstance(value, dict):
        return {k: _reversed_insertion(v) for k, v in reversed(list(value.items()))}
    if isinstance(value, list):
        return [_reversed_insertion(v) for v in value]
    return value


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_round_trips_and_ignores_insertion_order(value):
    encoded = both(value)
    assert json.loads(encoded) == value
    assert canonical_json(_reversed_insertion(value)) == encoded
    assert canonical_json(json.loads(encoded)) == encoded  # idempotent
    assert canonical_json_of_loaded(loads(encoded.decode())) == encoded  # the verifier's fast path


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_keys, st.integers(0, 9), min_size=2, max_size=8))
def test_object_members_come_out_in_utf16_order(value):
    members = json.loads(canonical_json(value), object_pairs_hook=list)
    keys = [k for k, _ in members]
    assert keys == sorted(value, key=lambda k: k.encode("utf-16-be", "surrogatepass"))


@pytest.mark.parametrize(
    "text",
    ["1.0", '{"a": 1e3}', "[NaN]", '{"x": -Infinity}', str(MAX_SAFE_INT + 1), "[-9007199254740993]", "{"],
)
def test_strict_loads_rejects_what_canonical_json_would(text):
    with pytest.raises(ValueError):
        loads(text)


def test_fast_path_for_loaded_values_keeps_the_remaining_checks():
    assert loads(f"[{MAX_SAFE_INT}, -{MAX_SAFE_INT}]") == [MAX_SAFE_INT, -MAX_SAFE_INT]
    with pytest.raises(ValueError, match="surrogate"):
        canonical_json_of_loaded(loads('{"a": "\\ud800"}'))
    assert (
        canonical_json_of_loaded(loads("[" * MAX_DEPTH + "]" * MAX_DEPTH))
        == b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    )
    with pytest.raises(ValueError, match="nesting"):
        canonical_json_of_loaded(loads("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)))
    astral = loads('{"\\ufb33": 1, "\\ud83d\\ude00": 2}')
    assert (
        canonical_json_of_loaded(astral) == canonical_json(astral) == '{"\U0001f600":2,"\ufb33":1}'.encode()
    )
