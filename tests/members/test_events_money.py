"""Household events and the money of periods already paid (D3, D7, D23, issue 18 acceptance
1): a lower share after a category change gives the difference back as credit, and shares
posted again after a departure keep the shares in force when they were bought. The ledger
audit passes after each scenario (acceptance 5)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import Allocation, CoveragePeriod, Household, LedgerTransaction
from gateway.services.coverage import live_allocation, receive_payment
from tests.support.events import assert_ledger_clean, credit, live_shares, record, status_on
from tests.support.factories import make_household, make_mutual

D = dt.date
NOW = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC)
PAID_ON = D(2026, 1, 10)


def pay(db: Session, household: Household, amount: int) -> None:
    receive_payment(
        db,
        household=household,
        amount=amount,
        paid_on=PAID_ON,
        channel="cash",
        reference=f"R-{household.number}",
        now=dt.datetime(2026, 1, 10, 9, tzinfo=dt.UTC),
    )


def amounts(db: Session, household: Household, year: int) -> list[tuple[int, int]]:
    """(member amount, funder amount) of the live shares of the period starting that year."""
    rows = db.execute(
        select(Allocation.member_amount, Allocation.funder_amount)
        .join(CoveragePeriod, CoveragePeriod.id == Allocation.period_id)
        .where(Allocation.household_id == household.id, live_allocation())
        .where(CoveragePeriod.starts_on == D(year, 1, 1))
    )
    return sorted((member, funder) for member, funder in rows)


def reversals(db: Session) -> int:
    query = select(LedgerTransaction).where(LedgerTransaction.reverses_id.is_not(None))
    return len(db.scalars(query).all())


def test_lower_share_gives_back_the_difference_on_prepaid_periods(db: Session) -> None:
    """D3, D23: three members prepaid 2026 and 2027 at full price; half-subsidised from
    2026-06-15: 2026 (already running) stays, 2027 is posted again at 3 000 (same day, cover
    unchanged) and the 9 000 given back buys 2028 at the new share at once (D7)."""
    mutual = make_mutual(db, subsidies=[("indigent", 50, "MASSN")])
    household = make_household(db, mutual, members=3)
    pay(db, household, 36000)
    record(db, household, "category", D(2026, 6, 15), NOW, category="indigent", certificate="C-1")
    assert amounts(db, household, 2026) == [(6000, 0)] * 3
    assert amounts(db, household, 2027) == [(3000, 3000)] * 3
    assert amounts(db, household, 2028) == [(3000, 3000)] * 3
    assert reversals(db) == 1
    assert credit(db, household) == 0
    head = household.beneficiaries[0]
    assert (head.number, 2027, PAID_ON) in live_shares(db, household)
    assert (head.number, 2028, NOW.date()) in live_shares(db, household)
    assert status_on(db, household, head, D(2027, 1, 5)) == "COVERED"
    assert_ledger_clean(db)


def test_a_zero_share_gives_back_every_prepaid_period(db: Session) -> None:
    """D3: certified indigent (share 0) from 2026-06-15: 2027's prepaid shares are the
    funder's now; the member's 6 000 is credit again, 2026 is untouched."""
    mutual = make_mutual(db, subsidies=[("indigent", 0, "MASSN")])
    household = make_household(db, mutual, members=1)
    pay(db, household, 12000)
    record(db, household, "category", D(2026, 6, 15), NOW, category="indigent")
    assert amounts(db, household, 2026) == [(6000, 0)]
    assert amounts(db, household, 2027) == [(0, 6000)]
    assert credit(db, household) == 6000
    assert_ledger_clean(db)


def test_a_higher_share_takes_nothing_more_for_prepaid_periods(db: Session) -> None:
    """D3: leaving a subsidised category: what was bought stays bought, at the old price."""
    mutual = make_mutual(db, subsidies=[("indigent", 50, "MASSN")])
    household = make_household(db, mutual, members=2, category="indigent")
    pay(db, household, 12000)
    record(db, household, "category", D(2026, 6, 15), NOW, category="standard")
    assert amounts(db, household, 2027) == [(3000, 3000)] * 2
    assert reversals(db) == 0
    assert_ledger_clean(db)


def test_shares_posted_again_after_a_death_keep_the_shares_they_were_bought_at(
    db: Session,
) -> None:
    """D7, D23: bought at 3 000 (half-subsidised), then standard, then a death: the others'
    2027 shares are posted again at 3 000 with the funder's 3 000, not at today's 6 000."""
    mutual = make_mutual(db, subsidies=[("indigent", 50, "MASSN")])
    household = make_household(db, mutual, members=3, category="indigent")
    pay(db, household, 18000)
    record(db, household, "category", D(2026, 6, 1), NOW, category="standard")
    child = household.beneficiaries[1]
    record(db, household, "death", D(2026, 6, 30), NOW, child, reason="décès")
    assert amounts(db, household, 2027) == [(3000, 3000)] * 2
    assert credit(db, household) == 3000
    assert_ledger_clean(db)
