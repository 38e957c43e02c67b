"""Strict amounts and MSISDN spellings shared by the payment adapters (payments.md: money is
an int end to end; an amount that differs is never auto-allocated, so nothing is rounded)."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.providers.payments.common import (
    MAX_AMOUNT,
    InvalidAmount,
    join_msisdn,
    msisdn_digits,
    parse_amount,
    split_msisdn,
)


@pytest.mark.parametrize(
    ("raw", "expected"), [("100", 100), (100, 100), (str(MAX_AMOUNT), MAX_AMOUNT)]
)
def test_whole_amounts_are_read(raw: Any, expected: int) -> None:
    assert parse_amount(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "100.5",
        "100.0",
        "1e3",
        "-5",
        "0",
        "",
        " 100",
        "100 ",
        "+100",
        "１００",
        100.0,
        100.5,
        True,
        None,
        [],
        str(MAX_AMOUNT + 1),
        "9" * 30,
        MAX_AMOUNT + 1,
        -1,
    ],
)
def test_anything_else_is_invalid(raw: Any) -> None:
    with pytest.raises(InvalidAmount):
        parse_amount(raw)


def test_msisdn_spellings() -> None:
    assert split_msisdn("+22670123412") == ("226", "70123412")
    assert msisdn_digits("+221771234567") == "221771234567"
    assert join_msisdn("226", "70123412") == "+22670123412"
    assert join_msisdn("+226", "22670123412") == "+22670123412"
    assert join_msisdn("226", "12") is None
    for bad in ("70123412", "+226 70 12 34 12", "+22600000000", "+abc"):
        with pytest.raises(ValueError):
            split_msisdn(bad)
