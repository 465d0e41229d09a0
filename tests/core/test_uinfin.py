"""NRIC/FIN checksums, the demo id sequence and masking."""

from __future__ import annotations

import pytest

from core.uinfin import DEMO_CAPACITY, check_letter, demo_uinfin, is_valid_uinfin, partial_uinfin


@pytest.mark.parametrize(
    "uinfin",
    [
        "S9812381D",  # the MyInfo sample person
        "S9912366D",  # MockPass personas
        "S9812353I",
        "F1612347K",
        "G1612352N",
        "T0066846F",
    ],
)
def test_known_ids_are_valid(uinfin: str) -> None:
    assert is_valid_uinfin(uinfin)


def test_checksums_worked_by_hand() -> None:
    # S1234567: 1*2 + 2*7 + 3*6 + 4*5 + 5*4 + 6*3 + 7*2 = 106; 106 % 11 = 7 -> "JZIHGFEDCBA"[7]
    assert check_letter("S", "1234567") == "D"
    # T adds 4: 110 % 11 = 0 -> "J"
    assert check_letter("T", "1234567") == "J"
    # F uses the FIN table: "XWUTRQPNMLK"[7]
    assert check_letter("F", "1234567") == "N"
    # G adds 4: "XWUTRQPNMLK"[0]
    assert check_letter("G", "1234567") == "X"
    # M adds 3: 109 % 11 = 10 -> "KLJNPQRTUWX"[10 - 10]
    assert check_letter("M", "1234567") == "K"
    # M with remainder 0: 0000000 + 3 = 3 -> 3 % 11 = 3 -> "KLJNPQRTUWX"[7]
    assert check_letter("M", "0000000") == "T"
    assert all(is_valid_uinfin(v) for v in ("S1234567D", "T1234567J", "F1234567N", "G1234567X", "M1234567K"))


@pytest.mark.parametrize(
    "value",
    [
        "S9812381A",  # wrong check letter
        "S9812381E",
        "M1234567X",  # an M-series letter, but not this number's
        "s9812381d",  # lowercase
        "S9812381d",
        " S9812381D",
        "S9812381D ",
        "A9812381D",  # unknown prefix
        "S981238D",  # too short
        "S98123811D",
        "S98I2381D",
        "S\uff19812381D",  # a non-ASCII (fullwidth) digit
        "",
        None,
        9812381,
    ],
)
def test_invalid_ids_are_rejected(value: object) -> None:
    assert not is_valid_uinfin(value)


def test_check_letter_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        check_letter("X", "1234567")
    with pytest.raises(ValueError):
        check_letter("S", "123456")


def test_demo_ids_are_valid_distinct_and_stable() -> None:
    ids = [demo_uinfin(n) for n in range(100_001)]
    assert len(set(ids)) == len(ids)
    assert all(is_valid_uinfin(u) and u[0] in "ST" for u in ids)
    assert {u[0] for u in ids} == {"S", "T"}
    # Pinned: the demo data, tests and benchmarks of every machine rely on these never changing.
    assert ids[:3] == ["S4251917J", "T1620704C", "T8989491Z"]
    assert demo_uinfin(9_999_999) != demo_uinfin(0)
    assert is_valid_uinfin(demo_uinfin(DEMO_CAPACITY - 1))


@pytest.mark.parametrize("n", [-1, DEMO_CAPACITY, 1.5, True])
def test_demo_index_out_of_range(n: object) -> None:
    with pytest.raises(ValueError):
        demo_uinfin(n)  # type: ignore[arg-type]


def test_partial_uinfin() -> None:
    assert partial_uinfin("S9812381D") == "*****381D"
    assert partial_uinfin("M1234567K") == "*****567K"
    assert partial_uinfin("ABC") == "***"
