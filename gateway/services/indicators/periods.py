"""Reporting periods of D22: a calendar year ('2026') or month ('2026-03'), first and last day."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

_LABEL = re.compile(r"(\d{4})(?:-(\d{2}))?")


class BadPeriod(ValueError):
    """A period that is neither YYYY nor YYYY-MM (with a month 01-12)."""


@dataclass(frozen=True, order=True)
class Period:
    start: dt.date
    end: dt.date
    label: str

    @property
    def monthly(self) -> bool:
        return len(self.label) == 7

    @property
    def year(self) -> int:
        return self.start.year

    def previous(self) -> Period:
        return period_holding(self.start - dt.timedelta(days=1), monthly=self.monthly)


def parse_period(text: str) -> Period:
    """'2026' or '2026-03'; anything else raises BadPeriod saying what is expected."""
    found = _LABEL.fullmatch(text.strip()) if isinstance(text, str) else None
    if found is None or not 1900 < int(found.group(1)) < 3000:
        raise BadPeriod(f"period {text!r} must be YYYY or YYYY-MM")
    year, month = int(found.group(1)), found.group(2)
    if month is None:
        return year_period(year)
    if not 1 <= int(month) <= 12:
        raise BadPeriod(f"period {text!r}: the month must be 01 to 12")
    return month_period(year, int(month))


def year_period(year: int) -> Period:
    return Period(dt.date(year, 1, 1), dt.date(year, 12, 31), f"{year:04d}")


def month_period(year: int, month: int) -> Period:
    last = calendar.monthrange(year, month)[1]
    return Period(dt.date(year, month, 1), dt.date(year, month, last), f"{year:04d}-{month:02d}")


def period_holding(day: dt.date, *, monthly: bool) -> Period:
    return month_period(day.year, day.month) if monthly else year_period(day.year)


def periods_between(since: dt.date, today: dt.date) -> list[Period]:
    """Every year and month ending on or after `since` and starting on or before `today`."""
    if since > today:
        return []
    found = [year_period(y) for y in range(since.year, today.year + 1)]
    year, month = since.year, since.month
    while (year, month) <= (today.year, today.month):
        found.append(month_period(year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found
