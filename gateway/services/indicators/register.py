"""Adherents (households) and beneficiaries active on a period's first and last day, new,
departed and growth (D22, ILO/STEP M.1), from ONE grouped read of the register per kind.

Beneficiaries are read grouped by (mutual, section, enrolment day, leaving day) and each
period's counts come from prefix sums over those groups, so every period of every mutual costs
one pass over the register. A beneficiary is active on day d when enrolled on or before d and
not removed or deceased before d (Beneficiary.active_on); a household is active from its first
beneficiary's enrolment to its last one's departure. New = active on the last day and not the
first; departed = active on the first day and not the last; so END = START + NEW - LEFT."""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, case, func, not_, or_, select
from sqlalchemy.orm import Session

from gateway.models import Beneficiary, Household
from gateway.services.indicators.figures import Figures
from gateway.services.indicators.periods import Period

GONE = ("removed", "deceased")
Group = tuple[int, int | None]
DAY = dt.timedelta(days=1)


@dataclass
class Spans:
    """Enrolment and leaving days of one mutual's section, with counts, for prefix sums."""

    rows: list[tuple[dt.date, dt.date | None, int]] = field(default_factory=list)
    _starts: list[dt.date] = field(default_factory=list)
    _start_sums: list[int] = field(default_factory=list)
    _ends: list[dt.date] = field(default_factory=list)
    _end_sums: list[int] = field(default_factory=list)
    _leavers: list[tuple[dt.date, dt.date, int]] = field(default_factory=list)  # (x, e, n)
    _leaving_days: list[dt.date] = field(default_factory=list)

    def seal(self) -> None:
        self._leavers = sorted((x, e, n) for e, x, n in self.rows if x is not None)
        self._leaving_days = [x for x, _, _ in self._leavers]
        self._starts, self._start_sums = _prefix((e, n) for e, _, n in self.rows)
        self._ends, self._end_sums = _prefix((x, n) for _, x, n in self.rows if x is not None)

    def active(self, day: dt.date) -> int:
        """Enrolled on or before `day` minus left before it."""
        return _upto(self._starts, self._start_sums, day, True) - _upto(
            self._ends, self._end_sums, day, False
        )

    def departed(self, period: Period) -> int:
        first = bisect.bisect_left(self._leaving_days, period.start)
        last = bisect.bisect_left(self._leaving_days, period.end)
        return sum(n for _, e, n in self._leavers[first:last] if e <= period.start)


def _prefix(items: Iterable[tuple[dt.date, int]]) -> tuple[list[dt.date], list[int]]:
    days: list[dt.date] = []
    sums: list[int] = []
    total = 0
    for day, n in sorted(items):
        total += n
        if days and days[-1] == day:
            sums[-1] = total
        else:
            days.append(day)
            sums.append(total)
    return days, sums


def _upto(days: list[dt.date], sums: list[int], day: dt.date, inclusive: bool) -> int:
    """The count of days <= `day` (inclusive) or < `day`."""
    at = bisect.bisect_right(days, day) if inclusive else bisect.bisect_left(days, day)
    return sums[at - 1] if at else 0


def _leaving() -> object:
    return case((Beneficiary.status.in_(GONE), Beneficiary.left_on), else_=None)


def _valid() -> object:
    """Drop rows that were never active: gone without a leaving day, or leaving before their
    enrolment (a data error the register import reports)."""
    gone = Beneficiary.status.in_(GONE)
    return not_(
        or_(
            and_(gone, Beneficiary.left_on.is_(None)),
            and_(gone, Beneficiary.left_on < Beneficiary.enrolled_on),
        )
    )


def read_spans(session: Session, mutual_ids: Sequence[int]) -> tuple[dict[Group, Spans], ...]:
    """(beneficiaries, households) spans per (mutual, section), from one grouped read of the
    register (one row per household and distinct enrolment and leaving days)."""
    leaving = _leaving()
    query = (
        select(
            Beneficiary.household_id,
            Household.mutual_id,
            Household.section_id,
            Beneficiary.enrolled_on,
            leaving,  # type: ignore[call-overload]
            func.count(),
        )
        .join(Household, Household.id == Beneficiary.household_id)
        .where(Beneficiary.mutual_id.in_(mutual_ids), Household.mutual_id.in_(mutual_ids), _valid())
        .group_by(
            Beneficiary.household_id,
            Household.mutual_id,
            Household.section_id,
            Beneficiary.enrolled_on,
            leaving,
        )
    )
    people: dict[tuple[int, int | None, dt.date, dt.date | None], int] = defaultdict(int)
    homes: dict[int, list[object]] = {}
    for household_id, mutual_id, section_id, e, x, n in session.execute(query):
        people[(mutual_id, section_id, e, x)] += n
        home = homes.get(household_id)
        if home is None:
            homes[household_id] = [mutual_id, section_id, e, x]
            continue
        home[2] = min(home[2], e)
        home[3] = None if home[3] is None or x is None else max(home[3], x)
    households: dict[tuple[object, ...], int] = defaultdict(int)
    for mutual_id, section_id, e, x in homes.values():
        households[(mutual_id, section_id, e, x)] += 1
    return _gather(people), _gather(households)


def _gather(counts: dict[Any, int]) -> dict[Group, Spans]:
    found: dict[Group, Spans] = defaultdict(Spans)
    for (mutual_id, section_id, e, x), n in counts.items():
        found[(mutual_id, section_id)].rows.append((e, x, n))
    for spans in found.values():
        spans.seal()
    return dict(found)


def register_figures(
    session: Session, mutual_ids: Sequence[int], periods: Sequence[Period], out: Figures
) -> None:
    beneficiaries, households = read_spans(session, mutual_ids)
    for prefix, growth, groups in (("HH", "M.1", households), ("BEN", "M.1B", beneficiaries)):
        for (mutual_id, section_id), spans in groups.items():
            for period in periods:
                _add(out, mutual_id, section_id, period, spans, prefix, growth)


def _add(
    out: Figures,
    mutual_id: int,
    section_id: int | None,
    period: Period,
    spans: Spans,
    prefix: str,
    growth: str,
) -> None:
    start, end = spans.active(period.start), spans.active(period.end)
    before = spans.active(period.start - DAY)
    left = spans.departed(period)
    label = period.label
    out.count(mutual_id, section_id, label, f"{prefix}_START", start)
    out.count(mutual_id, section_id, label, prefix, end)
    out.count(mutual_id, section_id, label, f"{prefix}_NEW", end - start + left)
    out.count(mutual_id, section_id, label, f"{prefix}_LEFT", left)
    # M.1: (A_N - A_N-1) / A_N-1, A_N-1 being the count on the day before the period.
    out.add(mutual_id, section_id, label, growth, end - before, before)
