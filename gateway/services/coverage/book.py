"""A household's contribution book: what the rules of D5-D10 need, loaded in a few queries.

Eligibility, the amount due and allocation all read the same snapshot, so they cannot disagree."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from gateway.models import Allocation, Beneficiary, CoveragePeriod, Household, Product, Subsidy
from gateway.services import ledger
from gateway.services.coverage.periods import Period, next_period, period_holding
from gateway.services.coverage.shares import Shares, shares_for


@dataclass(frozen=True, order=True)
class PaidPeriod:
    """D8: a period whose share is allocated; coverage counts from the effective date."""

    period: Period
    allocated_on: dt.date

    @property
    def effective(self) -> dt.date:
        return max(self.period.start, self.allocated_on)


@dataclass
class HouseholdBook:
    household: Household
    product: Product
    shares: Shares
    beneficiaries: list[Beneficiary]
    # beneficiary id -> {period start: PaidPeriod}
    paid: dict[int, dict[dt.date, PaidPeriod]] = field(default_factory=dict)
    registration_paid: bool = False
    credit: int = 0

    def active(self, on: dt.date) -> list[Beneficiary]:
        return [b for b in self.beneficiaries if b.active_on(on)]

    def is_paid(self, beneficiary: Beneficiary, period: Period) -> bool:
        return period.start in self.paid.get(beneficiary.id, {})

    def household_paid_for(self, period: Period) -> bool:
        return any(period.start in periods for periods in self.paid.values())

    def open_period(self, beneficiary: Beneficiary, on: dt.date) -> Period:
        """D5: the current period while its join window is open, or for a dependant enrolled
        after the window into a household already paid for it; otherwise the next one."""
        current = period_holding(self.product, on)
        window_end = current.start + dt.timedelta(days=self.product.join_window_days)
        if on <= window_end:
            return current
        if beneficiary.enrolled_on > window_end and self.household_paid_for(current):
            return current
        return next_period(self.product, current)

    def paid_periods(self, beneficiary: Beneficiary, until: dt.date) -> list[PaidPeriod]:
        """Allocated periods, plus for a fully subsidised household the periods the daily job
        allocates automatically (D3) up to the one holding `until`."""
        recorded = dict(self.paid.get(beneficiary.id, {}))
        if self.shares.fully_subsidised:
            for paid in automatic_periods(self, beneficiary, until):
                recorded.setdefault(paid.period.start, paid)
        return sorted(recorded.values())


def automatic_periods(
    book: HouseholdBook, beneficiary: Beneficiary, until: dt.date
) -> list[PaidPeriod]:
    """D3: from the first open period on, each period allocated on its first day (or the
    enrolment day if later), while the beneficiary is active at the period's start."""
    first = book.open_period(beneficiary, beneficiary.enrolled_on)
    last = period_holding(book.product, until)
    periods: list[PaidPeriod] = []
    period = first
    while period.start <= last.start:
        day = max(period.start, beneficiary.enrolled_on)
        if not beneficiary.active_on(day):
            break
        periods.append(PaidPeriod(period, day))
        period = next_period(book.product, period)
    return periods


def load_book(session: Session, household: Household) -> HouseholdBook:
    # One round trip for the product's configuration (a handful of rows), not four: every
    # coverage screen of a USSD hop reads it.
    product = (
        session.scalars(
            select(Product)
            .where(Product.id == household.product_id)
            .options(
                joinedload(Product.subsidies).joinedload(Subsidy.funder),
                joinedload(Product.levies),
            )
        )
        .unique()
        .one()
    )
    beneficiaries = list(
        session.scalars(
            select(Beneficiary)
            .where(Beneficiary.household_id == household.id)
            .order_by(Beneficiary.id)
        )
    )
    book = HouseholdBook(household, product, shares_for(product, household.category), beneficiaries)
    rows = session.execute(
        select(
            Allocation.kind,
            Allocation.beneficiary_id,
            Allocation.allocated_on,
            CoveragePeriod.starts_on,
            CoveragePeriod.ends_on,
        )
        .outerjoin(CoveragePeriod, CoveragePeriod.id == Allocation.period_id)
        .where(Allocation.household_id == household.id)
    )
    for kind, beneficiary_id, allocated_on, starts_on, ends_on in rows:
        if kind == "registration":
            book.registration_paid = True
        elif beneficiary_id is not None:
            paid = PaidPeriod(Period(starts_on, ends_on), allocated_on)
            book.paid.setdefault(beneficiary_id, {})[starts_on] = paid
    book.credit = ledger.household_credit(session, household.mutual_id, household.id)
    return book
