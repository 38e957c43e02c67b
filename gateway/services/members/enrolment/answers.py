"""Checking what a collector types for a field enrolment (D24), one answer at a time, so the
USSD re-prompts with a reason the collector can act on: an empty name, a year out of range, a
phone that is not a number of the mutual's country, an unknown section."""

from __future__ import annotations

import datetime as dt
import re

from gateway.lib.phones import InvalidPhone, normalize_msisdn

NAME_MAX = 40  # what a USSD screen shows in full (menus.engine.render.NAME_MAX)
OLDEST_YEAR = 1900
MAX_DEPENDANTS = 20
_LETTER = re.compile(r"[^\W\d_]")


class BadAnswer(ValueError):
    """An answer refused; `reason` names the problem (the USSD maps it to a catalog line)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason


def clean_name(text: str) -> str:
    """A person's name: spaces collapsed; empty, without a letter or too long is refused."""
    name = " ".join(text.split())
    if not name or not _LETTER.search(name):
        raise BadAnswer("name", f"a name needs letters, got {text!r}")
    if len(name) > NAME_MAX:
        raise BadAnswer("name_long", f"a name has at most {NAME_MAX} characters")
    return name


def clean_sex(text: str) -> str:
    """M or F (the USSD offers 1 Homme / 2 Femme)."""
    sex = {"1": "M", "2": "F"}.get(text.strip(), text.strip().upper())
    if sex not in ("M", "F"):
        raise BadAnswer("sex", f"sex is M or F, got {text!r}")
    return sex


def clean_year(text: str, today: dt.date) -> int:
    """A year of birth: four digits, from 1900 to this year."""
    value = text.strip()
    if not (value.isascii() and value.isdigit() and len(value) == 4):
        raise BadAnswer("year", f"a year of birth has four digits, got {text!r}")
    year = int(value)
    if not OLDEST_YEAR <= year <= today.year:
        raise BadAnswer("year", f"year {year} is not between {OLDEST_YEAR} and {today.year}")
    return year


def clean_phone(text: str, country: str) -> str:
    """The head's phone in E.164, read with the mutual's country as the default region."""
    try:
        return normalize_msisdn(text, country)
    except InvalidPhone as exc:
        raise BadAnswer("phone", str(exc)) from None


def clean_count(text: str) -> int:
    value = text.strip()
    if not (value.isascii() and value.isdigit()) or int(value) > MAX_DEPENDANTS:
        raise BadAnswer("count", f"from 0 to {MAX_DEPENDANTS} dependants, got {text!r}")
    return int(value)
