"""The dirty marks of D22 (gateway.models.indicator): a reversal marks its allocation's
coverage period, an event its effective day; one append-only row per mutual and flush."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gateway.models import Allocation, AllocationReversal, HouseholdEvent, IndicatorDirty
from tests.support.indicators import allocate, build


def test_a_reversal_and_an_event_mark_their_days(db: Session) -> None:
    s = build(db)
    allocate(db, s, "H4", 2026, 1, dt.date(2026, 3, 1))
    allocation = s.households["H4"]
    db.execute(delete(IndicatorDirty))
    row = db.scalars(
        select(Allocation)
        .where(Allocation.household_id == allocation.id)
        .order_by(Allocation.id.desc())
    ).first()
    assert row is not None
    db.add(
        AllocationReversal(
            mutual_id=row.mutual_id,
            household_id=row.household_id,
            allocation_id=row.id,
            reversed_on=dt.date(2026, 3, 10),
            reason="x",
        )
    )
    db.flush()
    assert db.scalars(select(IndicatorDirty.since)).all() == [dt.date(2026, 1, 1)]
    db.execute(delete(IndicatorDirty))
    db.add(
        HouseholdEvent(
            mutual_id=s.a.id,
            household_id=allocation.id,
            type="depart",
            effective_on=dt.date(2025, 7, 1),
            payload={},
            reason="moved",
            recorded_by="test",
            recorded_at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
            key="ev-1",
        )
    )
    db.flush()
    assert db.scalars(
        select(
            IndicatorDirty.mutual_id,
        )
    ).all() == [s.a.id]
    assert db.scalars(select(IndicatorDirty.since)).all() == [dt.date(2025, 7, 1)]
