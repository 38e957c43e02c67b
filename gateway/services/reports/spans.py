"""A statement's period as an operator types it (D25): `2026` holds the coverage periods
starting in 2026, `2026-03` those starting in March 2026. Registration fees, which belong to
no period, count in the span holding the day they were allocated."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from gateway.services.reports.errors import ReportError

_YEAR = re.compile(r"^(\d{4})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class Span:
    """The label as typed and its first and last day."""

    label: str
    first: dt.date
    last: dt.date

    def holds(self, day: dt.date) -> bool:
        return self.first <= day <= self.last


def parse_span(text: str) -> Span:
    """`YYYY` or `YYYY-MM`; anything else is refused with the expected forms."""
    value = (text or "").strip()
    if found := _YEAR.match(value):
        year = int(found.group(1))
        if year >= 1900:
            return Span(value, dt.date(year, 1, 1), dt.date(year, 12, 31))
    elif found := _MONTH.match(value):
        year, month = int(found.group(1)), int(found.group(2))
        if year >= 1900 and 1 <= month <= 12:
            following = dt.date(year + month // 12, month % 12 + 1, 1)
            return Span(value, dt.date(year, month, 1), following - dt.timedelta(days=1))
    raise ReportError(f"period {text!r} must be a year (2026) or a month (2026-03)")


def day_span(day: dt.date) -> Span:
    """One day, for the lists drawn up on a date."""
    return Span(day.isoformat(), day, day)
