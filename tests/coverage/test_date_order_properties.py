"""Property tests (Hypothesis) of D7b and D3: whatever order payments arrive in, the final book
is the one of date order, money is conserved and the ledger audit holds after every step; no
automatic allocation is dated before the day it was made nor in a period already ended."""

from __future__ import annotations

import datetime as dt
import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.models import Allocation, CoveragePeriod, Household, Payment
from gateway.services import ledger
from gateway.services.coverage import allocate_due, live_allocation, receive_payment
from gateway.services.ledger import posting
from tests.support.factories import make_household, make_mutual

START = dt.date(2026, 1, 1)
NOW = dt.datetime(2028, 6, 1, tzinfo=dt.UTC)
_codes = itertools.count(1)
SETTINGS = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
payment_lists = st.lists(
    st.tuples(st.integers(0, 700), st.integers(1, 16).map(lambda n: n * 750)),
    min_size=1,
    max_size=5,
)

Book = tuple[list[tuple[int, dt.date, dt.date]], int, int]


def book_of(db: Session, household: Household) -> Book:
    """Live contribution allocations (member index, period start, day), live registration
    allocations, and the credit."""
    index = {b.id: i for i, b in enumerate(household.beneficiaries)}
    rows = db.execute(
        select(Allocation.beneficiary_id, CoveragePeriod.starts_on, Allocation.allocated_on)
        .join(CoveragePeriod, CoveragePeriod.id == Allocation.period_id)
        .where(Allocation.household_id == household.id, live_allocation())
    )
    shares = sorted((index[b], start, day) for b, start, day in rows if b is not None)
    registrations = db.scalar(
        select(func.count()).where(
            Allocation.household_id == household.id,
            Allocation.kind == "registration",
            live_allocation(),
        )
    )
    credit = posting.household_credit(db, household.mutual_id, household.id)
    return shares, int(registrations or 0), credit


def receive(db: Session, household: Household, n: int, offset: int, amount: int) -> None:
    receive_payment(
        db,
        household=household,
        amount=amount,
        paid_on=START + dt.timedelta(days=offset),
        channel="cash",
        reference=f"{household.number}-R{n}",
        now=NOW,
    )
    assert ledger.audit(db, household.mutual_id) == []


@SETTINGS
@given(payments=payment_lists, members=st.integers(1, 3), data=st.data())
def test_any_arrival_order_gives_the_date_order_book(
    db: Session, payments: list[tuple[int, int]], members: int, data: st.DataObject
) -> None:
    """D7b: the same payments received in date order and in a random order give the same
    live allocations (same periods, same days), the same registration and the same credit;
    every franc is allocated or held as credit; the audit holds after each payment; the
    funder's receivable and the levy account equal the shares and levies (D3, D4) of the
    periods actually allocated."""
    mutual = make_mutual(
        db,
        code=f"DO{next(_codes)}",
        registration_fee=1000,
        subsidies=[("standard", 50, "ETAT")],
        levies=[("FGN", 300)],
    )
    mutual.payment_hold_multiple = 0
    in_order = make_household(db, mutual, members=members, enrolled_on=dt.date(2025, 11, 1))
    shuffled = make_household(db, mutual, members=members, enrolled_on=dt.date(2025, 11, 1))
    numbered = list(enumerate(payments))
    for n, (offset, amount) in sorted(numbered, key=lambda item: (item[1][0], item[0])):
        receive(db, in_order, n, offset, amount)
    for n, (offset, amount) in data.draw(st.permutations(numbered)):
        receive(db, shuffled, n, offset, amount)
    expected = book_of(db, in_order)
    assert book_of(db, shuffled) == expected
    for household in (in_order, shuffled):
        received = db.scalar(
            select(func.sum(Payment.amount)).where(Payment.household_id == household.id)
        )
        live_member = db.scalar(
            select(func.coalesce(func.sum(Allocation.member_amount), 0)).where(
                Allocation.household_id == household.id, live_allocation()
            )
        )
        assert received == int(live_member or 0) + expected[2]
    receivable = posting.balance(db, mutual.id, "asset:receivable:ETAT")
    funded = db.scalar(
        select(func.coalesce(func.sum(Allocation.funder_amount), 0)).where(
            Allocation.mutual_id == mutual.id, live_allocation()
        )
    )
    assert receivable == funded
    earned: dict[str, int] = {}
    for key, member, funder in db.execute(
        select(Allocation.ledger_key, Allocation.member_amount, Allocation.funder_amount).where(
            Allocation.mutual_id == mutual.id,
            Allocation.kind == "contribution",
            live_allocation(),
        )
    ):
        earned[key] = earned.get(key, 0) + member + funder
    levies = sum(amount * 300 // 10_000 for amount in earned.values())  # D4, per transaction
    assert posting.balance(db, mutual.id, "liab:levy:FGN") == -levies


@SETTINGS
@given(
    enrolled=st.integers(0, 400),
    recorded=st.integers(0, 500),
    runs=st.lists(st.integers(0, 900), min_size=1, max_size=5),
    monthly=st.booleans(),
)
def test_automatic_periods_are_never_back_filled(
    db: Session, enrolled: int, recorded: int, runs: list[int], monthly: bool
) -> None:
    """D3: a 0-share household's automatic allocations start no earlier than the period open
    on the day its share became 0, and each is dated on or after the day the job made it, in a
    period that had not ended that day."""
    product = {"period": "month", "contribution": 500} if monthly else {}
    mutual = make_mutual(
        db, code=f"AU{next(_codes)}", subsidies=[("indigent", 0, "MASSN")], **product
    )
    enrolled_on = START + dt.timedelta(days=enrolled)
    household = make_household(db, mutual, members=2, category="indigent", enrolled_on=enrolled_on)
    since = max(enrolled_on, START + dt.timedelta(days=recorded))
    household.category_since = since
    seen: set[int] = set()
    for offset in sorted(set(runs)):
        day = START + dt.timedelta(days=offset)
        allocate_due(db, on=day, mutual_id=mutual.id)
        rows = db.execute(
            select(Allocation.id, Allocation.allocated_on, CoveragePeriod.ends_on)
            .join(CoveragePeriod, CoveragePeriod.id == Allocation.period_id)
            .where(Allocation.household_id == household.id)
        )
        for allocation_id, allocated_on, ends_on in rows:
            if allocation_id in seen:
                continue
            seen.add(allocation_id)
            assert allocated_on >= day and ends_on >= day
            assert allocated_on >= since and ends_on >= since
    assert ledger.audit(db, mutual.id) == []
