"""The one money and date formatter for texts shown to people (USSD screens, SMS).

Amounts follow D2 (domain.md): whole FCFA, thousands grouped with the language's separator and
wrapped in its `amount` text (`8 750 FCFA` in French); dates are dd/mm/yyyy (ussd.md)."""

from __future__ import annotations

import datetime as dt

from gateway.lib.catalogs import ussd_messages

NO_DAY = "-"  # what a screen shows where there is no date (e.g. never covered)


def money(amount: int, lang: str) -> str:
    """D2: grouped thousands in LANG's catalog (`thousands_sep`, `amount`); never decimals."""
    texts = ussd_messages(lang)
    grouped = f"{amount:,}".replace(",", texts["thousands_sep"])
    return texts["amount"].format(value=grouped)


def day(date: dt.date | None) -> str:
    """dd/mm/yyyy, zero-padded, the same in every language; `-` for no date."""
    return date.strftime("%d/%m/%Y") if date is not None else NO_DAY
