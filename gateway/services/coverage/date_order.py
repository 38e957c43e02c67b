"""D7b: payments are allocated in the order of their payment dates, whatever the order in which
they reach the gateway. Money dated before a household's later activity reverses the allocations
made after that date (reversing ledger transactions and reversal rows: nothing is updated or
deleted) and re-applies the credit day by day in date order, in the caller's transaction."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, replace

from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.orm import Session

from gateway.models import (
    Account,
    Allocation,
    AllocationReversal,
    CoveragePeriod,
    Household,
    LedgerEntry,
    LedgerTransaction,
    Payment,
)
from gateway.services import ledger
from gateway.services.alerts import raise_alert
from gateway.services.coverage.apply import allocate, allocate_group
from gateway.services.coverage.book import HouseholdBook, load_book
from gateway.services.coverage.periods import Period
from gateway.services.coverage.shares import Shares


@dataclass(frozen=True, order=True)
class Share:
    """What a member was told: who is paid for which period, covered from which day (D8)."""

    beneficiary_id: int | None
    period_start: dt.date
    effective: dt.date


def settle(
    session: Session,
    household: Household,
    *,
    since: dt.date,
    now: dt.datetime,
    why: str,
    book: HouseholdBook | None = None,
) -> list[Allocation]:
    """Apply the household's credit as of `since` (a payment's date), in date order (D7b).
    Returns the allocations made; raises an operator alert when a share the member was
    already told about changed. `book`: the household's book, when the caller has it."""
    today = now.date()
    if ledger.on_hold(session, household.mutual_id):
        return []  # a failed audit stops allocation: nothing reversed either until cleared
    if not _later_activity(session, household, since):
        return allocate(session, household, on=since, made_on=max(since, today), book=book)
    undone = _live(session, household, after=since)
    before = {_share(a, start) for a, start in undone if start is not None}
    days = {since} | {a.allocated_on for a, _ in undone} | _payment_days(session, household, since)
    reverse_allocations(session, [a for a, _ in undone], on=today, reason=why)
    made: list[Allocation] = []
    for day in sorted(days):
        made += allocate(session, household, on=day, made_on=max(day, today))
    session.flush()
    after = {_share(a, start) for a, start in _live(session, household, after=since) if start}
    if changed := sorted(before - after):
        _alert(session, household, changed, why, now)
    return made


def reverse_allocations(
    session: Session, allocations: list[Allocation], *, on: dt.date, reason: str
) -> None:
    """Undo allocations: each ledger transaction reversed once (all its shares together, the
    funder's receivable and levies with them), and a reversal row per allocation."""
    by_key: dict[str, list[Allocation]] = defaultdict(list)
    for allocation in allocations:
        by_key[allocation.ledger_key].append(allocation)
    for key, group in by_key.items():
        mutual_id = group[0].mutual_id
        txn = session.scalars(
            select(LedgerTransaction).where(
                LedgerTransaction.mutual_id == mutual_id,
                LedgerTransaction.idempotency_key == key,
            )
        ).one_or_none()
        reversal_key = None
        if txn is not None:  # a free product's shares were never posted
            reversal_key = f"reversal:{key}"
            ledger.reverse(session, txn, key=reversal_key, occurred_on=on, description=reason)
        session.add_all(
            AllocationReversal(
                mutual_id=a.mutual_id,
                household_id=a.household_id,
                allocation_id=a.id,
                reversed_on=on,
                ledger_key=reversal_key,
                reason=reason[:200],
            )
            for a in group
        )
    session.flush()


def release_shares(
    session: Session,
    household: Household,
    *,
    after: dt.date,
    beneficiary_id: int | None,
    now: dt.datetime,
    why: str,
) -> list[Allocation]:
    """D7, D23: undo the live shares of periods starting after `after` (one beneficiary's, or
    every share of the household when None) with reversing transactions; the other shares of
    each reversed transaction are posted again as they were (same day, next generation), so the
    released member money is back as household credit. Returns the allocations released."""
    released = _shares_after(session, household, after, beneficiary_id)
    if not released:
        return []
    keys = {a.ledger_key for a in released}
    group = list(
        session.scalars(
            select(Allocation)
            .where(Allocation.household_id == household.id, Allocation.ledger_key.in_(keys))
            .where(~exists().where(AllocationReversal.allocation_id == Allocation.id))
            .order_by(Allocation.id)
        )
    )
    reverse_allocations(session, group, on=now.date(), reason=why)
    gone = {a.id for a in released}
    book = load_book(session, household)
    by_id = {b.id: b for b in book.beneficiaries}
    kept: dict[tuple[str, int], list[Allocation]] = defaultdict(list)
    for allocation in group:
        if allocation.id not in gone and allocation.period_id is not None:
            kept[(allocation.ledger_key, allocation.period_id)].append(allocation)
    for (_key, period_id), rows in sorted(kept.items()):
        row = session.get(CoveragePeriod, period_id)
        assert row is not None
        stay = [by_id[a.beneficiary_id] for a in rows if a.beneficiary_id in by_id]
        period = Period(row.starts_on, row.ends_on)
        at = shares_as_allocated(session, book, rows[0])
        allocate_group(session, book, period, stay, rows[0].allocated_on, shares=at)
    session.flush()
    return released


def shares_as_allocated(session: Session, book: HouseholdBook, allocation: Allocation) -> Shares:
    """D3: the shares in force when `allocation` was made (its member and funder amounts, and
    the funder its transaction named), for re-posting it as it was, whatever the household's
    category or the product's price today."""
    prefix = ledger.accounts.receivable("")
    query = (
        select(Account.name)
        .join(LedgerEntry, LedgerEntry.account_id == Account.id)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(
            LedgerTransaction.mutual_id == allocation.mutual_id,
            LedgerTransaction.idempotency_key == allocation.ledger_key,
            Account.name.startswith(prefix),
        )
    )
    funder = session.scalars(query.limit(1)).first()
    code = book.shares.funder_code
    if funder is not None:
        found = funder[len(prefix) :]
        code = None if found == ledger.accounts.UNASSIGNED_FUNDER else found
    return replace(
        book.shares,
        funder_code=code,
        contribution_member=allocation.member_amount,
        contribution_funder=allocation.funder_amount,
    )


def _shares_after(
    session: Session, household: Household, after: dt.date, beneficiary_id: int | None
) -> list[Allocation]:
    query = (
        select(Allocation)
        .join(CoveragePeriod, CoveragePeriod.id == Allocation.period_id)
        .where(Allocation.household_id == household.id, CoveragePeriod.starts_on > after)
        .where(~exists().where(AllocationReversal.allocation_id == Allocation.id))
        .order_by(Allocation.id)
    )
    if beneficiary_id is not None:
        query = query.where(Allocation.beneficiary_id == beneficiary_id)
    return list(session.scalars(query))


def _later_activity(session: Session, household: Household, since: dt.date) -> bool:
    """Whether anything paid with money is dated after `since`: a payment, or an allocation
    of member money (0-share automatic periods do not depend on money)."""
    payment = select(Payment.id).where(
        Payment.household_id == household.id, Payment.paid_on > since, _credited()
    )
    allocation = select(Allocation.id).where(
        Allocation.household_id == household.id,
        Allocation.allocated_on > since,
        Allocation.member_amount > 0,
        ~exists().where(AllocationReversal.allocation_id == Allocation.id),
    )
    return bool(session.scalar(select(exists(payment) | exists(allocation))))


def _credited() -> ColumnElement[bool]:
    """Payments whose money reached the household's credit (not held for an operator)."""
    return Payment.hold_reason.is_(None) | Payment.released_at.is_not(None)


def _live(
    session: Session, household: Household, *, after: dt.date
) -> list[tuple[Allocation, dt.date | None]]:
    """The household's allocations of member money dated after `after`, not reversed, with
    their period's first day."""
    rows = session.execute(
        select(Allocation, CoveragePeriod.starts_on)
        .outerjoin(CoveragePeriod, CoveragePeriod.id == Allocation.period_id)
        .where(
            Allocation.household_id == household.id,
            Allocation.allocated_on > after,
            Allocation.member_amount > 0,
            ~exists().where(AllocationReversal.allocation_id == Allocation.id),
        )
        .order_by(Allocation.id)
    )
    return [(allocation, start) for allocation, start in rows]


def _share(allocation: Allocation, start: dt.date) -> Share:
    return Share(allocation.beneficiary_id, start, max(start, allocation.allocated_on))


def _payment_days(session: Session, household: Household, since: dt.date) -> set[dt.date]:
    query = select(Payment.paid_on).where(
        Payment.household_id == household.id, Payment.paid_on > since, _credited()
    )
    return set(session.scalars(query))


def _alert(
    session: Session, household: Household, changed: list[Share], why: str, now: dt.datetime
) -> None:
    periods = ", ".join(sorted({s.period_start.isoformat() for s in changed}))
    detail = (
        f"household {household.number}: {why} came before later payments or allocations; its "
        f"payments were re-applied in date order (D7b), which changed cover the member was "
        f"already told about (periods starting {periods}): tell the household"
    )
    raise_alert(
        session,
        kind="coverage_corrected",
        subject=f"household {household.number}",
        detail=detail[:1000],
        now=now,
        mutual_id=household.mutual_id,
        key=f"coverage_corrected:{household.id}:{why}"[:200],
    )
