"""A household's contribution book: what the rules of D5-D10 need, loaded in a few queries.

Eligibility, the amount due and allocation all read the same snapshot, so they cannot disagree."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    String,
    bindparam,
    exists,
    literal,
    select,
    union_all,
)
from sqlalchemy.orm import Session, joinedload

from gateway.models import (
    Allocation,
    AllocationReversal,
    Beneficiary,
    CoveragePeriod,
    Household,
    HouseholdEvent,
    MembershipSpell,
    Product,
    Subsidy,
)
from gateway.services import ledger
from gateway.services.coverage.periods import Period, next_period, period_holding
from gateway.services.coverage.shares import Shares, shares_for


def live_allocation(allocation: type[Allocation] = Allocation) -> ColumnElement[bool]:
    """An allocation that counts: not reversed (D7b). `allocation`: the class or an alias."""
    return ~exists().where(AllocationReversal.allocation_id == allocation.id)


@dataclass(frozen=True, order=True)
class PaidPeriod:
    """D8: a period whose share is allocated; coverage counts from the effective date."""

    period: Period
    allocated_on: dt.date

    @property
    def effective(self) -> dt.date:
        return max(self.period.start, self.allocated_on)


@dataclass(frozen=True)
class Suspension:
    """D11 SUSPENDED from `start` until the day before `lifted` (None: not lifted)."""

    start: dt.date
    lifted: dt.date | None
    reason: str

    def holds(self, day: dt.date) -> bool:
        return self.start <= day and (self.lifted is None or day < self.lifted)


@dataclass(frozen=True)
class Fold:
    """What `eligibility.spells` made of a beneficiary's paid periods before a snapshot's
    cutoff (issue 19): the runs it closed, (first, last), and the run still open. Folding on
    from there gives the same spells as folding the whole history, in constant time."""

    closed: tuple[tuple[PaidPeriod, PaidPeriod], ...] = ()
    open: tuple[PaidPeriod, PaidPeriod] | None = None


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
    # (beneficiary id or None for the registration fee, period start or None) -> how many
    # allocations of that share were reversed (D7b): the generation of the next one.
    reversed: dict[tuple[int | None, dt.date | None], int] = field(default_factory=dict)
    # beneficiary id -> earlier membership spells, closed by a departure (D23 re-enrolment).
    earlier: dict[int, list[Period]] = field(default_factory=dict)
    # beneficiary id -> suspensions from the register's events (D11, D23): (first day, the
    # day it was lifted or None, reason).
    suspensions: dict[int, list[Suspension]] = field(default_factory=dict)
    # A snapshot's book (issue 19): periods starting before `cutoff` are folded per
    # beneficiary into `folded`; `paid` holds the later ones. None: `paid` is the history.
    cutoff: dt.date | None = None
    folded: dict[int, Fold] = field(default_factory=dict)

    def generation(self, beneficiary_id: int | None, period: Period | None) -> int:
        return self.reversed.get((beneficiary_id, period.start if period else None), 0)

    def active(self, on: dt.date) -> list[Beneficiary]:
        return [b for b in self.beneficiaries if self.member_on(b, on)]

    def member_on(self, beneficiary: Beneficiary, day: dt.date) -> bool:
        """D6, D23: active on the day in the current membership spell or an earlier one."""
        if beneficiary.active_on(day):
            return True
        return any(spell.holds(day) for spell in self.earlier.get(beneficiary.id, ()))

    def owes_for(self, beneficiary: Beneficiary, period: Period) -> bool:
        """D7: a beneficiary who left owes nothing for periods starting after they left, even
        when money dated before the departure is applied later (D7b)."""
        left = beneficiary.left_on
        gone = beneficiary.status in ("removed", "deceased")
        return not (gone and left is not None and left < period.start)

    def suspended_on(self, beneficiary: Beneficiary, day: dt.date) -> str | None:
        """D11, D23: the reason when the beneficiary was suspended that day, else None. A
        suspension without its event (set before the register kept events) holds every day."""
        found = self.suspensions.get(beneficiary.id, [])
        for suspension in found:
            if suspension.holds(day):
                return suspension.reason
        if beneficiary.status == "suspended" and not any(s.lifted is None for s in found):
            return beneficiary.status_reason or ""
        return None

    def in_gap(self, beneficiary: Beneficiary, day: dt.date) -> bool:
        """D23: a day between two membership spells (left, not yet re-enrolled): REMOVED."""
        earlier = self.earlier.get(beneficiary.id)
        if not earlier or day >= beneficiary.enrolled_on:
            return False
        first = min(spell.start for spell in earlier)
        return first <= day and not any(spell.holds(day) for spell in earlier)

    def is_paid(self, beneficiary: Beneficiary, period: Period) -> bool:
        return period.start in self.paid.get(beneficiary.id, {})

    def household_paid_for(self, period: Period) -> bool:
        return any(period.start in periods for periods in self.paid.values())

    def open_period(self, beneficiary: Beneficiary, on: dt.date) -> Period:
        """D5: the current period while its join window is open, or while the household is
        paid for it and the beneficiary is not (a newborn or a dependant added during the
        period, whenever enrolled: their share buys the current period); otherwise the next."""
        current = period_holding(self.product, on)
        window_end = current.start + dt.timedelta(days=self.product.join_window_days)
        if on <= window_end:
            return current
        if self.household_paid_for(current) and not self.is_paid(beneficiary, current):
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


def subsidised_since(book: HouseholdBook, beneficiary: Beneficiary) -> dt.date:
    """D3: the day the beneficiary's share became 0: their enrolment, or the day the
    household's category took effect if later (an old enrolment is never back-filled)."""
    since = book.household.category_since
    return beneficiary.enrolled_on if since is None else max(since, beneficiary.enrolled_on)


def automatic_periods(
    book: HouseholdBook, beneficiary: Beneficiary, until: dt.date, made_on: dt.date | None = None
) -> list[PaidPeriod]:
    """D3: from the first open period on the day the share became 0, each period allocated on
    its first day (or that day if later) while the beneficiary is active then. `made_on`: the
    day the allocations are made, which none is dated before, and periods that had ended by
    then are skipped (never back-filled); None projects what the daily job allocates, the
    first period included when it is still ahead (D11: WAITING, with its `from`)."""
    since = subsidised_since(book, beneficiary)
    first = book.open_period(beneficiary, since)
    last = period_holding(book.product, until)
    if made_on is None and first.start > last.start:
        last = first  # a first period still ahead is certain: the member is told WAITING, from

    periods: list[PaidPeriod] = []
    period = first
    while period.start <= last.start:
        day = max(period.start, since)
        if not book.member_on(beneficiary, day):
            break
        if made_on is None:
            periods.append(PaidPeriod(period, day))
        elif period.end >= made_on:
            periods.append(PaidPeriod(period, max(day, made_on)))
        period = next_period(book.product, period)
    return periods


# The book's statements, built once (issue 19): a payment's confirmation loads two books.
_PRODUCT = (
    select(Product)
    .where(Product.id == bindparam("product_id"))
    .options(joinedload(Product.subsidies).joinedload(Subsidy.funder), joinedload(Product.levies))
)
BENEFICIARIES = (
    select(Beneficiary)
    .where(Beneficiary.household_id == bindparam("household_id"))
    .order_by(Beneficiary.id)
)
_ALLOCATIONS = (
    select(
        Allocation.kind,
        Allocation.beneficiary_id,
        Allocation.allocated_on,
        CoveragePeriod.starts_on,
        CoveragePeriod.ends_on,
        AllocationReversal.id,
    )
    .outerjoin(CoveragePeriod, CoveragePeriod.id == Allocation.period_id)
    .outerjoin(AllocationReversal, AllocationReversal.allocation_id == Allocation.id)
    .where(Allocation.household_id == bindparam("household_id"))
)


def load_book(
    session: Session, household: Household, *, credit_on: dt.date | None = None
) -> HouseholdBook:
    """The household's book now; `credit_on` a day: with the credit it held that day (D7b)."""
    # One round trip for the product's configuration (a handful of rows), not four: every
    # coverage screen of a USSD hop reads it.
    product = session.scalars(_PRODUCT, {"product_id": household.product_id}).unique().one()
    beneficiaries = list(session.scalars(BENEFICIARIES, {"household_id": household.id}))
    book = HouseholdBook(household, product, shares_for(product, household.category), beneficiaries)
    rows = session.execute(_ALLOCATIONS, {"household_id": household.id})
    for kind, beneficiary_id, allocated_on, starts_on, ends_on, reversal in rows:
        if reversal is not None:
            share = (beneficiary_id, starts_on)
            book.reversed[share] = book.reversed.get(share, 0) + 1
        elif kind == "registration":
            book.registration_paid = True
        elif beneficiary_id is not None:
            paid = PaidPeriod(Period(starts_on, ends_on), allocated_on)
            book.paid.setdefault(beneficiary_id, {})[starts_on] = paid
    if household.dated_register:
        _load_register(session, book)
    mutual_id = household.mutual_id
    book.credit = ledger.household_credit(session, mutual_id, household.id, as_of=credit_on)
    return book


def _load_register(session: Session, book: HouseholdBook) -> None:
    """Earlier membership spells and suspend / lift / departure events (D11, D23) in one round
    trip (a USSD hop reads a book): events in the order recorded become dated suspensions."""
    spells = select(
        MembershipSpell.id,
        MembershipSpell.beneficiary_id,
        literal("spell", String(16)).label("kind"),
        MembershipSpell.starts_on,
        MembershipSpell.ends_on,
        MembershipSpell.ended_as.label("reason"),
    ).where(MembershipSpell.household_id == book.household.id)
    events = select(
        HouseholdEvent.id,
        HouseholdEvent.beneficiary_id,
        HouseholdEvent.type,
        HouseholdEvent.effective_on,
        literal(None, Date),
        HouseholdEvent.reason,
    ).where(
        HouseholdEvent.household_id == book.household.id,
        HouseholdEvent.type.in_(("suspend", "lift", "depart", "death")),
    )
    rows: list[Any] = list(session.execute(union_all(spells, events).order_by("id")))
    for _id, beneficiary_id, kind, start, end, reason in rows:
        if kind == "spell":
            book.earlier.setdefault(beneficiary_id, []).append(Period(start, end))
            continue
        found = book.suspensions.setdefault(beneficiary_id, [])
        if kind == "suspend":
            found.append(Suspension(start, None, reason))
        elif found and found[-1].lifted is None:
            # Lifted that day; a departure ends it the day after (a re-enrolment starts free).
            end = start if kind == "lift" else start + dt.timedelta(days=1)
            found[-1] = Suspension(found[-1].start, end, found[-1].reason)
