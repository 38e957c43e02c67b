"""Property tests (Hypothesis): status dates stay consistent whatever the payment dates and
amounts (D7-D11)."""

from __future__ import annotations

import datetime as dt
import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.models import Allocation, Payment
from gateway.services.coverage.allocation import receive_payment
from gateway.services.coverage.book import PaidPeriod, load_book
from gateway.services.coverage.eligibility import (
    Status,
    household_status,
    spells,
    status_from_spells,
)
from gateway.services.coverage.periods import Period
from gateway.services.ledger import posting
from tests.support.factories import make_household, make_mutual

START = dt.date(2026, 1, 1)
days = st.integers(min_value=0, max_value=4 * 365)
_codes = itertools.count(1)


@st.composite
def paid_years(draw: st.DrawFn) -> list[PaidPeriod]:
    years = sorted(draw(st.sets(st.integers(2026, 2030), min_size=1, max_size=4)))
    paid = []
    for year in years:
        period = Period(dt.date(year, 1, 1), dt.date(year, 12, 31))
        # Allocated up to two months before the year starts or any time within it.
        offset = draw(st.integers(min_value=-60, max_value=364))
        paid.append(PaidPeriod(period, period.start + dt.timedelta(days=offset)))
    return paid


def covered(paid: list[PaidPeriod], waiting: int, grace: int, day: dt.date) -> bool:
    status = status_from_spells("1", spells(paid, waiting, grace), grace, day)
    return status.status in (Status.COVERED, Status.GRACE)


@given(paid=paid_years(), waiting=st.integers(0, 120), grace=st.integers(0, 90), offset=days)
def test_status_dates_are_consistent(
    paid: list[PaidPeriod], waiting: int, grace: int, offset: int
) -> None:
    """D11: COVERED/GRACE end on or after the date, WAITING starts after it, and each date is
    the end of a paid period (plus grace) or an effective date plus waiting."""
    day = START + dt.timedelta(days=offset)
    found = spells(paid, waiting, grace)
    status = status_from_spells("1", found, grace, day)
    ends = {p.period.end for p in paid}
    if status.status == Status.COVERED:
        assert status.until is not None and status.until >= day and status.until in ends
    elif status.status == Status.GRACE:
        assert status.until is not None and day <= status.until
        assert status.until - dt.timedelta(days=grace) in ends
    elif status.status == Status.WAITING:
        assert status.from_ is not None and status.from_ > day
        assert status.from_ - dt.timedelta(days=waiting) in {p.effective for p in paid}
    else:
        assert status.status == Status.NOT_COVERED
        assert status.until is None and status.from_ is None


@given(
    paid=paid_years(),
    extra=paid_years(),
    waiting=st.integers(0, 120),
    grace=st.integers(0, 90),
    offset=days,
)
def test_paying_more_never_uncovers_a_day(
    paid: list[PaidPeriod], extra: list[PaidPeriod], waiting: int, grace: int, offset: int
) -> None:
    """D9: more paid periods can merge spells (less waiting), never remove coverage."""
    day = START + dt.timedelta(days=offset)
    known = {p.period.start for p in paid}
    more = sorted(paid + [p for p in extra if p.period.start not in known])
    if covered(paid, waiting, grace, day):
        assert covered(more, waiting, grace, day)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    payments=st.lists(st.tuples(days, st.integers(1, 20_000)), min_size=1, max_size=6),
    members=st.integers(1, 4),
    check_day=days,
)
def test_money_is_conserved_and_household_status_consistent(
    db: Session, payments: list[tuple[int, int]], members: int, check_day: int
) -> None:
    """D6/D7: every franc received is allocated or held as credit, credit is never negative,
    the amount due is never negative, and member statuses agree with the household's."""
    mutual = make_mutual(db, code=f"P{next(_codes)}", registration_fee=500)
    household = make_household(db, mutual, members=members, enrolled_on=dt.date(2025, 11, 1))
    for index, (offset, amount) in enumerate(sorted(payments)):
        receive_payment(
            db,
            household=household,
            amount=amount,
            channel="mobile",
            paid_on=START + dt.timedelta(days=offset),
            reference=f"R{index}",
        )
    received = db.scalar(
        select(func.sum(Payment.amount)).where(Payment.household_id == household.id)
    )
    allocated = db.scalar(
        select(func.coalesce(func.sum(Allocation.member_amount), 0)).where(
            Allocation.household_id == household.id
        )
    )
    credit = posting.household_credit(db, mutual.id, household.id)
    assert credit >= 0
    assert allocated is not None
    assert received == allocated + credit
    summary = household_status(load_book(db, household), START + dt.timedelta(days=check_day))
    assert summary.amount_due >= 0
    statuses = {m.status for m in summary.members}
    assert summary.up_to_date == (statuses <= {Status.COVERED, Status.GRACE})
