"""Who is covered on a date (D8-D13): beneficiary status from paid periods, spells and waiting."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

from gateway.models import Beneficiary
from gateway.services.coverage.book import Fold, HouseholdBook, PaidPeriod
from gateway.services.coverage.dues import amount_due, renewal_amount

NEWBORN_DAYS = 90  # D9: a child enrolled within 90 days of birth


class Status(StrEnum):
    COVERED = "COVERED"
    GRACE = "GRACE"
    WAITING = "WAITING"
    NOT_COVERED = "NOT_COVERED"
    SUSPENDED = "SUSPENDED"
    REMOVED = "REMOVED"
    UNKNOWN = "UNKNOWN"


COVERED_STATES = (Status.COVERED, Status.GRACE)


@dataclass(frozen=True)
class Spell:
    """D9: consecutive paid periods; covered from `covered_from` to `end`, then grace."""

    first: PaidPeriod
    last: PaidPeriod
    covered_from: dt.date

    @property
    def end(self) -> dt.date:
        return self.last.period.end


@dataclass(frozen=True)
class BeneficiaryStatus:
    number: str
    status: Status
    until: dt.date | None = None
    from_: dt.date | None = None
    reason: str | None = None


@dataclass(frozen=True)
class HouseholdStatus:
    number: str
    up_to_date: bool
    amount_due: int
    renewal_amount: int
    until: dt.date | None
    from_: dt.date | None
    members: list[BeneficiaryStatus] = field(default_factory=list)


def spells(
    paid: list[PaidPeriod],
    waiting_days: int,
    grace_days: int,
    first_exempt: bool = False,
    fold: Fold | None = None,
) -> list[Spell]:
    """Group sorted paid periods into spells; each spell starts with a waiting period (D9).
    `fold`: the runs of the periods before these ones (a snapshot's book, issue 19)."""
    runs = fold_runs(paid, grace_days, fold or Fold())
    closed = [*runs.closed, *([runs.open] if runs.open is not None else [])]
    return [
        _spell(first, last, waiting_days, first_exempt and i == 0)
        for i, (first, last) in enumerate(closed)
    ]


def fold_runs(paid: list[PaidPeriod], grace_days: int, fold: Fold) -> Fold:
    """D9's grouping as a left fold: a run goes on while the next period takes effect within
    `grace_days` of the last one's end, so folding part of a history then the rest gives
    the same runs as folding the whole."""
    closed = list(fold.closed)
    start, last = fold.open if fold.open is not None else (None, None)
    for item in paid:
        if start is None or last is None or (item.effective - last.period.end).days > grace_days:
            if start is not None and last is not None:
                closed.append((start, last))
            start = item
        last = item
    current = (start, last) if start is not None and last is not None else None
    return Fold(tuple(closed), current)


def _spell(first: PaidPeriod, last: PaidPeriod, waiting_days: int, exempt: bool) -> Spell:
    waiting = 0 if exempt else waiting_days
    return Spell(first, last, first.effective + dt.timedelta(days=waiting))


def status_from_spells(
    number: str, all_spells: list[Spell], grace_days: int, on: dt.date
) -> BeneficiaryStatus:
    """D11, in order of precedence: covered, then grace, then waiting (in a spell's waiting
    days or paid for a future period only), else not covered."""
    for spell in all_spells:
        if spell.covered_from <= on <= spell.end:
            return BeneficiaryStatus(number, Status.COVERED, until=spell.end)
    for spell in all_spells:
        grace_end = spell.end + dt.timedelta(days=grace_days)
        if spell.covered_from <= spell.end < on <= grace_end:
            return BeneficiaryStatus(number, Status.GRACE, until=grace_end)
    # Paid and waiting: in a spell's waiting days, or paid only for a future period (e.g.
    # after a lapse, money paid past the join window buys next year): the nearest start.
    for spell in all_spells:
        if on < spell.covered_from <= spell.end:
            return BeneficiaryStatus(number, Status.WAITING, from_=spell.covered_from)
    return BeneficiaryStatus(number, Status.NOT_COVERED)


def beneficiary_status(
    book: HouseholdBook, beneficiary: Beneficiary, on: dt.date
) -> BeneficiaryStatus:
    number = beneficiary.number
    if beneficiary.status in ("removed", "deceased") and (
        beneficiary.left_on is None or beneficiary.left_on < on
    ):
        return BeneficiaryStatus(number, Status.REMOVED, reason=beneficiary.status)
    if book.in_gap(beneficiary, on):  # D23: between two membership spells
        return BeneficiaryStatus(number, Status.REMOVED, reason="removed")
    if (reason := book.suspended_on(beneficiary, on)) is not None:
        return BeneficiaryStatus(number, Status.SUSPENDED, reason=reason)
    found = beneficiary_spells(book, beneficiary, on)
    return status_from_spells(number, found, book.product.grace_days, on)


def beneficiary_spells(
    book: HouseholdBook, beneficiary: Beneficiary, until: dt.date
) -> list[Spell]:
    """D9: a beneficiary's spells from their paid periods (automatic ones, D3, up to the period
    holding `until`), the first one without waiting for an exempt newborn. What D11 reads, and
    what tells the day a spell's cover starts (`Spell.covered_from`)."""
    product = book.product
    paid = book.paid_periods(beneficiary, until)
    exempt = not product.newborn_waiting and _newborn_of_covered_mother(book, beneficiary)
    fold = book.folded.get(beneficiary.id)
    return spells(paid, product.waiting_days, product.grace_days, exempt, fold)


def _newborn_of_covered_mother(book: HouseholdBook, child: Beneficiary) -> bool:
    """D9 exception: enrolled within 90 days of birth while the mother was covered."""
    if child.relation != "child" or child.birth_date is None:
        return False
    if (child.enrolled_on - child.birth_date).days > NEWBORN_DAYS:
        return False
    mothers = [
        b
        for b in book.beneficiaries
        if b.sex == "F" and b.relation in ("head", "spouse") and b.id != child.id
    ]
    return any(
        beneficiary_status(book, mother, child.enrolled_on).status in COVERED_STATES
        for mother in mothers
    )


def household_status(book: HouseholdBook, on: dt.date) -> HouseholdStatus:
    """D12: "à jour" when every active beneficiary is covered or in grace."""
    active_ids = {b.id for b in book.active(on)}
    members = [beneficiary_status(book, b, on) for b in book.beneficiaries]
    active = [m for b, m in zip(book.beneficiaries, members, strict=True) if b.id in active_ids]
    up_to_date = bool(active) and all(m.status in COVERED_STATES for m in active)
    untils = [m.until for m in active if m.until is not None]
    froms = [m.from_ for m in active if m.status == Status.WAITING and m.from_ is not None]
    return HouseholdStatus(
        number=book.household.number,
        up_to_date=up_to_date,
        amount_due=amount_due(book, on),
        renewal_amount=renewal_amount(book, on),
        until=min(untils) if up_to_date and untils else None,
        from_=max(froms) if froms else None,
        members=members,
    )
