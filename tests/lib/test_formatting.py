"""The one money and date formatter (D2, ussd.md), and that nothing else formats them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from gateway.lib import formatting
from tests.support.paths import ROOT
from tests.support.source_scan import literals, production_files


@pytest.mark.parametrize(
    ("amount", "lang", "expected"),
    [
        (0, "fr", "0 FCFA"),
        (999, "fr", "999 FCFA"),
        (1000, "fr", "1 000 FCFA"),
        (7000, "fr", "7 000 FCFA"),
        (8750, "fr", "8 750 FCFA"),
        (9_999_999, "fr", "9 999 999 FCFA"),
        (1_234_567_890, "fr", "1 234 567 890 FCFA"),
        (-2500, "fr", "-2 500 FCFA"),
        (8750, "en", "8,750 FCFA"),
        (0, "en", "0 FCFA"),
    ],
)
def test_money_groups_thousands_in_the_language(amount: int, lang: str, expected: str) -> None:
    assert formatting.money(amount, lang) == expected


def test_money_refuses_a_language_without_catalog() -> None:
    with pytest.raises(KeyError):
        formatting.money(1000, "xx")


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (dt.date(2027, 3, 5), "05/03/2027"),
        (dt.date(2026, 12, 31), "31/12/2026"),
        (dt.date(2027, 1, 1), "01/01/2027"),
        (dt.datetime(2027, 2, 9, 23, 59, tzinfo=dt.UTC), "09/02/2027"),
        (None, "-"),
    ],
)
def test_day_is_dd_mm_yyyy(day: dt.date | None, expected: str) -> None:
    assert formatting.day(day) == expected


# What a copy of the formatter is made of: the date pattern and the catalog's separator key.
FORMATTER_PARTS = {"%d/%m/%Y", "thousands_sep"}
HOME = ROOT / "gateway" / "lib" / "formatting.py"


def formatter_copies(paths: list[Path]) -> list[str]:
    """Literals of FORMATTER_PARTS outside the formatter's own module."""
    return literals(paths, FORMATTER_PARTS.__contains__, home=HOME)


def test_money_and_dates_are_formatted_in_one_place() -> None:
    assert formatter_copies(production_files()) == []


def test_a_planted_copy_is_found(tmp_path: Path) -> None:
    planted = tmp_path / "copy.py"
    planted.write_text('def f(d):\n    return d.strftime("%d/%m/%Y")\n', encoding="utf-8")
    assert formatter_copies([planted]) == [f"{planted}:2 '%d/%m/%Y'"]
