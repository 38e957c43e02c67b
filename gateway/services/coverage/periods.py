"""Coverage periods of a product (D1): coverage years from `coverage_start`, or calendar months."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.models import CoveragePeriod, Product


@dataclass(frozen=True, order=True)
class Period:
    start: dt.date
    end: dt.date

    def holds(self, day: dt.date) -> bool:
        return self.start <= day <= self.end


def _start_month_day(coverage_start: str) -> tuple[int, int]:
    month, day = coverage_start.split("-")
    return int(month), int(day)


def _year_start(year: int, month: int, day: int) -> dt.date:
    # A 02-29 start falls back to 02-28 in common years.
    try:
        return dt.date(year, month, day)
    except ValueError:
        return dt.date(year, month, day - 1)


def period_holding(product: Product, day: dt.date) -> Period:
    return _holding(product.period, product.coverage_start, day)


@lru_cache(maxsize=4096)
def _holding(kind: str, coverage_start: str, day: dt.date) -> Period:
    """Pure in its arguments, so cached: a reminders run asks for the same few dates once
    per beneficiary of 100 000 households."""
    if kind == "month":
        start = day.replace(day=1)
        return Period(start, _next_month(start) - dt.timedelta(days=1))
    month, mday = _start_month_day(coverage_start)
    start = _year_start(day.year, month, mday)
    if start > day:
        start = _year_start(day.year - 1, month, mday)
    following = _year_start(start.year + 1, month, mday)
    return Period(start, following - dt.timedelta(days=1))


def next_period(product: Product, period: Period) -> Period:
    return period_holding(product, period.end + dt.timedelta(days=1))


def previous_period(product: Product, period: Period) -> Period:
    return period_holding(product, period.start - dt.timedelta(days=1))


def period_starting_on_or_after(product: Product, day: dt.date) -> Period:
    period = period_holding(product, day)
    return period if period.start == day else next_period(product, period)


def _next_month(first: dt.date) -> dt.date:
    return dt.date(first.year + (first.month == 12), first.month % 12 + 1, 1)


def period_row(session: Session, product: Product, period: Period) -> CoveragePeriod:
    """The stored row for a period, created on first use (safe under concurrent creation)."""
    query = select(CoveragePeriod).where(
        CoveragePeriod.product_id == product.id, CoveragePeriod.starts_on == period.start
    )
    row = session.scalars(query).one_or_none()
    if row is not None:
        return row
    row = CoveragePeriod(product_id=product.id, starts_on=period.start, ends_on=period.end)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return session.scalars(query).one()
    return row


def period_label(period: Period) -> str:
    """How a period is named to members (D6b, "Cotisation 2027"): a calendar year as its
    year, another coverage year as its two years, a month as mm/yyyy."""
    if (period.end - period.start).days < 32:
        return period.start.strftime("%m/%Y")
    if (period.start.month, period.start.day) == (1, 1):
        return str(period.start.year)
    return f"{period.start.year}-{period.end.year}"
