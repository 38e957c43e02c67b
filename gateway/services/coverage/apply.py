"""Applying a household's credit (D3, D4, D5, D7): the registration fee, then whole periods
while the credit covers every unpaid share, and the automatic periods of 0-share households."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from gateway.models import (
    Account,
    Allocation,
    Beneficiary,
    Household,
    LedgerEntry,
    Product,
    Subsidy,
)
from gateway.services import ledger
from gateway.services.coverage.book import HouseholdBook, PaidPeriod, automatic_periods, load_book
from gateway.services.coverage.periods import Period, next_period, period_row
from gateway.services.coverage.shares import Shares, levy_amounts

# How far ahead money may buy periods: five coverage years, or three years of months.
MAX_PERIODS_AHEAD = {"year": 5, "month": 36}


def allocate(
    session: Session,
    household: Household,
    *,
    on: dt.date,
    made_on: dt.date | None = None,
    book: HouseholdBook | None = None,
) -> list[Allocation]:
    """D7 as of day `on`, with the credit the household held that day (D7b: money that
    arrived later never buys an earlier period): automatic periods of 0-share households (D3),
    then the registration fee, then whole periods. `made_on`: the day this runs (default
    `on`): no automatic allocation is dated before it. Nothing while a failed ledger audit
    holds the mutual (payments.md, Ledger). `book`: the household's book the caller already
    loaded (its credit is read again as of `on`)."""
    if ledger.on_hold(session, household.mutual_id):
        return []
    if book is None:
        book = load_book(session, household, credit_on=on)
    else:
        book.credit = ledger.household_credit(session, household.mutual_id, household.id, as_of=on)
    made = _allocate_automatic(session, book, on, made_on or on)
    if book.shares.fully_subsidised:
        return made + _allocate_registration(session, book, on)
    registration = _allocate_registration(session, book, on)
    if not book.registration_paid:
        return made
    return made + registration + _allocate_periods(session, book, on)


def _generation_key(key: str, generation: int) -> str:
    """A share allocated again after a reversal (D7b) needs a new ledger key."""
    return key if generation == 0 else f"{key}:g{generation}"


def _allocate_registration(session: Session, book: HouseholdBook, on: dt.date) -> list[Allocation]:
    shares = book.shares
    total = shares.registration_member + shares.registration_funder
    if book.registration_paid or total == 0:
        book.registration_paid = True
        return []
    if shares.registration_member > book.credit:
        return []
    household = book.household
    generation = book.generation(None, None)
    key = _generation_key(f"registration:{household.id}", generation)
    lines = [
        (ledger.accounts.household(household.id), shares.registration_member),
        (ledger.accounts.receivable(shares.funder_code), shares.registration_funder),
        (ledger.accounts.registration_fees(), -total),
    ]
    ledger.post(
        session,
        mutual_id=household.mutual_id,
        key=key,
        kind="registration",
        occurred_on=on,
        lines=lines,
        description=f"registration fee of household {household.number}",
    )
    row = Allocation(
        mutual_id=household.mutual_id,
        household_id=household.id,
        kind="registration",
        member_amount=shares.registration_member,
        funder_amount=shares.registration_funder,
        allocated_on=on,
        ledger_key=key,
        generation=generation,
    )
    session.add(row)
    book.registration_paid = True
    book.credit -= shares.registration_member
    return [row]


def _allocate_periods(session: Session, book: HouseholdBook, on: dt.date) -> list[Allocation]:
    active = book.active(on)
    share = book.shares.contribution_member
    if not active or share == 0:
        return []
    period = min(book.open_period(b, on) for b in active)
    made: list[Allocation] = []
    for _ in range(MAX_PERIODS_AHEAD[book.product.period]):
        due = [
            b
            for b in active
            if book.open_period(b, on) <= period
            and not book.is_paid(b, period)
            and book.owes_for(b, period)
        ]
        if due:
            if share * len(due) > book.credit:
                break
            made += allocate_group(session, book, period, due, on)
        period = next_period(book.product, period)
    return made


def _allocate_automatic(
    session: Session, book: HouseholdBook, on: dt.date, made_on: dt.date
) -> list[Allocation]:
    if not book.shares.fully_subsidised:
        return []
    pending: dict[tuple[Period, dt.date], list[Beneficiary]] = {}
    for beneficiary in book.beneficiaries:
        for paid in automatic_periods(book, beneficiary, on, made_on=made_on):
            if not book.is_paid(beneficiary, paid.period):
                pending.setdefault((paid.period, paid.allocated_on), []).append(beneficiary)
    made: list[Allocation] = []
    for (period, day), group in sorted(pending.items(), key=lambda item: item[0]):
        made += allocate_group(session, book, period, group, day)
    return made


def allocate_group(
    session: Session,
    book: HouseholdBook,
    period: Period,
    group: list[Beneficiary],
    on: dt.date,
    shares: Shares | None = None,
) -> list[Allocation]:
    """One balanced transaction for the shares of a group for one period (D7: together); also
    what re-posts the shares of a group that stay when one share is released (D23), then at
    `shares`: the shares in force when they were first allocated, not today's."""
    household, product = book.household, book.product
    shares = shares or book.shares
    member = shares.contribution_member * len(group)
    funder = shares.contribution_funder * len(group)
    earned = member + funder
    ids = ",".join(str(b.id) for b in sorted(group, key=lambda b: b.id))
    digest = hashlib.sha256(ids.encode()).hexdigest()[:16]
    generations = {b.id: book.generation(b.id, period) for b in group}
    # The highest generation in the group makes the key new whenever any share in it is
    # allocated again (each share's generation only grows).
    key = _generation_key(
        f"allocation:{household.id}:{period.start.isoformat()}:{digest}", max(generations.values())
    )
    lines = [
        (ledger.accounts.household(household.id), member),
        (ledger.accounts.receivable(shares.funder_code), funder),
        (ledger.accounts.contributions(), -earned),
    ]
    for levy_name, levy in levy_amounts(product, earned):
        lines += [(ledger.accounts.contributions(), levy), (ledger.accounts.levy(levy_name), -levy)]
    if earned > 0:  # a free product earns nothing: no transaction, the shares still count
        ledger.post(
            session,
            mutual_id=household.mutual_id,
            key=key,
            kind="allocation",
            occurred_on=on,
            lines=lines,
            description=f"contributions {period.start} household {household.number}",
        )
    row_period = period_row(session, product, period)
    rows = [
        Allocation(
            mutual_id=household.mutual_id,
            household_id=household.id,
            beneficiary_id=b.id,
            period_id=row_period.id,
            kind="contribution",
            member_amount=shares.contribution_member,
            funder_amount=shares.contribution_funder,
            allocated_on=on,
            ledger_key=key,
            generation=generations[b.id],
        )
        for b in group
    ]
    session.add_all(rows)
    for b in group:
        book.paid.setdefault(b.id, {})[period.start] = PaidPeriod(period, on)
    book.credit -= member
    return rows


def allocate_due(session: Session, *, on: dt.date, mutual_id: int | None = None) -> int:
    """The daily job and `gateway allocation run` (D3, D7): apply household credit that now
    covers shares, and the automatic periods of 0-share households, in every mutual or one.
    Returns the allocations made."""
    made = 0
    for household in households_to_allocate(session, mutual_id):
        made += len(allocate(session, household, on=on))
    session.flush()
    return made


def households_to_allocate(
    session: Session, mutual_id: int | None = None, among: Select[Any] | None = None
) -> list[Household]:
    """Households holding credit, and 0-share households (their next automatic period); with
    `among` (a query of household ids), only those (the members import's touched ones)."""
    credit_accounts = (
        select(Account.name)
        .join(LedgerEntry, LedgerEntry.account_id == Account.id)
        .where(ledger.accounts.household_accounts())
        .group_by(Account.id, Account.name)
        .having(func.sum(LedgerEntry.amount) < 0)
    )
    subsidised = (
        select(Household.id)
        .join(Product, Product.id == Household.product_id)
        .join(
            Subsidy, (Subsidy.product_id == Product.id) & (Subsidy.category == Household.category)
        )
        .where(Subsidy.member_share == 0)
    )
    if mutual_id is not None:
        credit_accounts = credit_accounts.where(Account.mutual_id == mutual_id)
        subsidised = subsidised.where(Household.mutual_id == mutual_id)
    named = (ledger.accounts.household_id(name) for name in session.scalars(credit_accounts))
    ids = {household_id for household_id in named if household_id is not None}
    ids.update(session.scalars(subsidised))
    if not ids:
        return []
    query = select(Household).where(Household.id.in_(ids))
    if among is not None:
        query = query.where(Household.id.in_(among))
    return list(session.scalars(query.order_by(Household.id)))
