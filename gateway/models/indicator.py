"""D22 indicators as stored numerator/denominator rows, the target populations managers enter
(M.5), and the dirty marks that make the periodic job recompute what changed (issue 17).

A payment, an allocation, a reversal or a household event flushed in a session adds ONE
`indicator_dirty` row per mutual (the earliest day whose figures it may change), in the same
transaction: an append-only insert that never waits on another writer. The indicators job
recomputes the periods ending on or after that day and deletes the marks it read."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    event,
    insert,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from gateway.models.base import Base, IdMixin, utcnow
from gateway.models.coverage import Allocation, AllocationReversal, CoveragePeriod
from gateway.models.household_event import HouseholdEvent
from gateway.models.payment import Payment


class Indicator(IdMixin, Base):
    """One figure of one mutual, section (None: mutual-wide) and period ('2026', '2026-03');
    `key` splits a code (a channel, a funder, a day, a facility). Roll-ups sum rows.

    Derived rows, rewritten by the job from joins with the mutual (locked) and its sections:
    no foreign keys, whose row-by-row checks cost a fifth to a third of a full recompute (0036)."""

    __tablename__ = "indicators"
    __table_args__ = (Index("ix_indicators_mutual_id_period", "mutual_id", "period"),)

    mutual_id: Mapped[int] = mapped_column()
    section_id: Mapped[int | None] = mapped_column()
    period: Mapped[str] = mapped_column(String(7))
    code: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(64), default="")
    numerator: Mapped[int] = mapped_column(BigInteger)
    denominator: Mapped[int] = mapped_column(BigInteger)
    computed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class IndicatorTarget(IdMixin, Base):
    """M.5: the target population of a section for a year, entered by a manager."""

    __tablename__ = "indicator_targets"
    __table_args__ = (
        UniqueConstraint("mutual_id", "section_id", "year"),
        CheckConstraint("population > 0", name="population"),
    )

    mutual_id: Mapped[int] = mapped_column(ForeignKey("mutuals.id"))
    section_id: Mapped[int] = mapped_column(ForeignKey("sections.id"))
    year: Mapped[int] = mapped_column()
    population: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class IndicatorDirty(IdMixin, Base):
    """A mutual's figures from `since` on may have changed: recompute them (append-only)."""

    __tablename__ = "indicator_dirty"

    mutual_id: Mapped[int] = mapped_column(ForeignKey("mutuals.id"))
    since: Mapped[dt.date] = mapped_column()
    marked_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


def changed_since(session: Session, objects: Iterable[Any]) -> dict[int, dt.date]:
    """The earliest day each mutual's figures may change by, for the new rows `objects`: a
    payment's day, an event's effective day, an allocation's (or a reversed allocation's)
    coverage period start (D22: a late payment changes a past period)."""
    found: dict[int, dt.date] = {}
    periods: dict[int, int] = {}  # coverage period -> mutual
    reversed_ids: dict[int, int] = {}  # allocation -> mutual

    def add(mutual_id: int, day: dt.date) -> None:
        found[mutual_id] = min(day, found.get(mutual_id, day))

    for obj in objects:
        mutual_id, day = obj.mutual_id, _day(obj)
        add(mutual_id, day)
        if isinstance(obj, Allocation) and obj.period_id is not None:
            periods[obj.period_id] = mutual_id
        elif isinstance(obj, AllocationReversal):
            reversed_ids[obj.allocation_id] = mutual_id
    if reversed_ids:
        allocated = select(Allocation.id, Allocation.period_id).where(
            Allocation.id.in_(reversed_ids), Allocation.period_id.is_not(None)
        )
        for allocation_id, period_id in session.execute(allocated):
            if period_id is not None:
                periods[period_id] = reversed_ids[allocation_id]
    if periods:
        starts = select(CoveragePeriod.id, CoveragePeriod.starts_on).where(
            CoveragePeriod.id.in_(periods)
        )
        for period_id, starts_on in session.execute(starts):
            add(periods[period_id], starts_on)
    return found


def _day(obj: Any) -> dt.date:
    if isinstance(obj, Payment):
        return obj.paid_on
    if isinstance(obj, HouseholdEvent):
        return obj.effective_on
    if isinstance(obj, Allocation):
        return obj.allocated_on
    day: dt.date = obj.reversed_on
    return day


@event.listens_for(Session, "after_flush")
def _mark_dirty(session: Session, _ctx: Any) -> None:
    watched = [o for o in session.new if isinstance(o, WATCHED)]
    if not watched:
        return
    marks = changed_since(session, watched)
    now = utcnow()
    rows = [{"mutual_id": m, "since": d, "marked_at": now} for m, d in marks.items()]
    session.execute(insert(IndicatorDirty), rows)


WATCHED = (Payment, Allocation, AllocationReversal, HouseholdEvent)
