"""The check digit of generated numbers (D24, issue 18): Damm catches every single-digit
substitution and every adjacent transposition; only digits of the generated shape are checked,
so numbers imported from a mutual's file are never refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.lib.checkdigit import (
    damm,
    household_number,
    is_generated,
    is_valid,
    member_number,
    typo,
    with_check,
)

DIGITS = st.text(alphabet="0123456789", min_size=1, max_size=20)


def test_damm_known_value() -> None:
    """Damm's own example: 572 -> check digit 4."""
    assert damm("572") == 4
    assert with_check("572") == "5724" and is_valid("5724") and not is_valid("5723")


@given(DIGITS, st.data())
def test_every_single_digit_substitution_is_caught(payload: str, data: st.DataObject) -> None:
    number = with_check(payload)
    position = data.draw(st.integers(0, len(number) - 1))
    wrong = data.draw(st.sampled_from([d for d in "0123456789" if d != number[position]]))
    typed = number[:position] + wrong + number[position + 1 :]
    assert not is_valid(typed)


@given(DIGITS, st.data())
def test_every_adjacent_transposition_is_caught(payload: str, data: st.DataObject) -> None:
    number = with_check(payload)
    if len(number) < 2:
        return
    i = data.draw(st.integers(0, len(number) - 2))
    if number[i] == number[i + 1]:
        return  # swapping equal digits changes nothing
    typed = number[:i] + number[i + 1] + number[i] + number[i + 2 :]
    assert not is_valid(typed)


def test_every_substitution_of_a_generated_household_and_member_number() -> None:
    """Exhaustive on real shapes: each of the 9 x 9 (household) and 12 x 9 (member) typos is
    invalid; all but a changed leading 9 keep the generated shape, so USSD calls them a typo
    before any lookup (a changed 9 is another shape: looked up, and unknown)."""
    for number in (household_number(1), member_number(household_number(1234567), 7)):
        for i, digit in enumerate(number):
            for other in "0123456789":
                if other != digit:
                    typed = number[:i] + other + number[i + 1 :]
                    assert not is_valid(typed), typed
                    assert typo(typed) == (i > 0), typed


def test_generated_shapes() -> None:
    household = household_number(1)
    assert household == "900000019" and is_generated(household) and is_valid(household)
    member = member_number(household, 1)
    assert member == household + "01" + member[-1] and len(member) == 12 and is_valid(member)
    assert is_generated(member) and not typo(member)


@pytest.mark.parametrize(
    "imported", ["1001", "100101", "KDG-0001", "80000001", "9000000", "9000000123", "1234567890123"]
)
def test_numbers_of_another_shape_are_never_a_typo(imported: str) -> None:
    """Imported numbers (the demo's 1001 / 100101, any other length) are looked up as typed."""
    assert not typo(imported)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: household_number(0), "serial"),
        (lambda: household_number(10**7), "serial"),
        (lambda: member_number("123", 1), "not a generated"),
        (lambda: member_number(household_number(5), 100), "rank"),
        (lambda: damm("12a"), "not a digit"),
    ],
)
def test_bad_arguments_say_why(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]
