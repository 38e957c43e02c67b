"""Property test (Hypothesis) of household events (D7, D23): whatever departures, deaths,
re-enrolments, suspensions and payments (dated today or back, D7b) follow each other, every
franc paid is allocated or household credit, no one who left holds a live share of a period
starting after they left, no share is live twice, and the ledger audit holds after every step
(acceptance 5)."""

from __future__ import annotations

import datetime as dt
import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import Allocation, Beneficiary, CoveragePeriod, Household
from gateway.services import ledger
from gateway.services.coverage import live_allocation, receive_payment
from gateway.services.members import EventError
from tests.support.events import record
from tests.support.factories import make_household, make_mutual

NOW = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC)
FIRST = dt.date(2025, 12, 2)
DAYS = (NOW.date() - FIRST).days
_codes = itertools.count(1)
SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
steps = st.lists(
    st.tuples(
        st.sampled_from(["depart", "death", "reenrol", "suspend", "lift", "pay", "late"]),
        st.integers(0, 2),  # which member
        st.integers(0, DAYS),  # the day, from FIRST
    ),
    min_size=1,
    max_size=8,
)


def check_books(db: Session, household: Household, paid: int) -> None:
    rows = db.execute(
        select(Allocation.beneficiary_id, CoveragePeriod.starts_on, Allocation.member_amount)
        .join(CoveragePeriod, CoveragePeriod.id == Allocation.period_id)
        .where(Allocation.household_id == household.id, live_allocation())
    ).all()
    shares = [(b, start) for b, start, _ in rows]
    assert len(shares) == len(set(shares))
    members: dict[int | None, Beneficiary] = {b.id: b for b in household.beneficiaries}
    for beneficiary_id, start in shares:
        b = members[beneficiary_id]
        if b.status in ("removed", "deceased"):
            assert b.left_on is not None and start <= b.left_on, (b.number, start)
    allocated = sum(amount for _, _, amount in rows)
    credit = ledger.household_credit(db, household.mutual_id, household.id)
    assert credit >= 0
    assert allocated + credit == paid
    assert ledger.audit(db, household.mutual_id) == []


@SETTINGS
@given(years=st.integers(1, 3), script=steps)
def test_any_sequence_of_events_keeps_the_books(
    db: Session, years: int, script: list[tuple[str, int, int]]
) -> None:
    mutual = make_mutual(db, code=f"P{next(_codes)}")
    household = make_household(db, mutual, members=3)
    paid = 18000 * years
    receive_payment(
        db,
        household=household,
        amount=paid,
        paid_on=dt.date(2026, 1, 10),
        channel="cash",
        reference=f"{household.number}-R0",
        now=dt.datetime(2026, 1, 10, 9, tzinfo=dt.UTC),
    )
    for n, (kind, index, offset) in enumerate(script):
        day = FIRST + dt.timedelta(days=offset)
        member = household.beneficiaries[index]
        if kind in ("pay", "late"):  # today, or dated back (D7b re-applies in date order)
            receive_payment(
                db,
                household=household,
                amount=6000,
                paid_on=NOW.date() if kind == "pay" else day,
                channel="cash",
                reference=f"{household.number}-R{n + 1}",
                now=NOW,
            )
            paid += 6000
        else:
            try:
                with db.begin_nested():
                    record(db, household, kind, day, NOW, member, reason=f"step {n}")
            except EventError:
                pass  # refused for the register as it is: nothing changed
        db.expire_all()
        check_books(db, household, paid)
