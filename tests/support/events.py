"""Household events test helpers (D23): record one event as the CLI would, and read what
counts in the books."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import Allocation, Beneficiary, CoveragePeriod, Household
from gateway.services import ledger
from gateway.services.coverage import beneficiary_status, live_allocation, load_book
from gateway.services.members import Change, Recorded, record_event


def record(
    db: Session,
    household: Household,
    kind: str,
    on: dt.date,
    now: dt.datetime,
    beneficiary: Beneficiary | None = None,
    reason: str = "test",
    **data: Any,
) -> Recorded:
    change = Change(kind, on, reason, "tester", beneficiary, data)
    return record_event(db, household, change, now=now)


def status_on(db: Session, household: Household, beneficiary: Beneficiary, day: dt.date) -> str:
    """D11 status of one beneficiary on a date, read from a fresh book."""
    db.expire_all()
    book = load_book(db, household)
    return str(beneficiary_status(book, beneficiary, day).status)


def live_shares(db: Session, household: Household) -> list[tuple[str, int, dt.date]]:
    """(member number, period year, allocation day) of the live allocations."""
    rows = db.execute(
        select(Beneficiary.number, CoveragePeriod.starts_on, Allocation.allocated_on)
        .join(Beneficiary, Beneficiary.id == Allocation.beneficiary_id)
        .join(CoveragePeriod, CoveragePeriod.id == Allocation.period_id)
        .where(Allocation.household_id == household.id, live_allocation())
    )
    return sorted((number, start.year, day) for number, start, day in rows)


def credit(db: Session, household: Household) -> int:
    return ledger.household_credit(db, household.mutual_id, household.id)


def assert_ledger_clean(db: Session) -> None:
    """Acceptance 5: `gateway ledger check` finds nothing after the scenario."""
    db.flush()
    assert ledger.audit(db) == []
