"""Money in and its allocation (D3, D4, D7): credit the household, then pay the registration
fee and whole periods, earliest open period first; what is left stays as credit."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.models import (
    Account,
    Allocation,
    Beneficiary,
    Household,
    LedgerEntry,
    Mutual,
    Payment,
    Product,
    Subsidy,
)
from gateway.services import ledger
from gateway.services.coverage.book import HouseholdBook, PaidPeriod, automatic_periods, load_book
from gateway.services.coverage.periods import Period, next_period, period_row
from gateway.services.coverage.shares import levy_amounts

# How far ahead money may buy periods: five coverage years, or three years of months.
MAX_PERIODS_AHEAD = {"year": 5, "month": 36}


class PaymentConflict(ValueError):
    """A payment reference already recorded with other details."""


@dataclass(frozen=True)
class Receipt:
    payment: Payment
    created: bool
    allocations: list[Allocation]


def debit_account_for(mutual: Mutual, channel: str, agent_id: int | None) -> str:
    """Where the money sits once received (payments.md, Ledger)."""
    if channel == "cash":
        return ledger.accounts.cash() if agent_id is None else ledger.accounts.agent_cash(agent_id)
    if channel == "mobile":
        return ledger.accounts.provider_float(mutual.payment_provider)
    return ledger.accounts.bank()


def receive_payment(
    session: Session,
    *,
    household: Household,
    amount: int,
    paid_on: dt.date,
    channel: str,
    reference: str,
    agent_id: int | None = None,
    debit_account: str | None = None,
) -> tuple[Payment, bool]:
    """Record money for a household once per (mutual, reference), then allocate it as of the
    day it was paid. Replaying the same payment is a no-op; other details are a conflict.
    `debit_account` names where the money sits when the channel's default is not it (e.g.
    the float of the provider that collected a mobile payment)."""
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise ValueError(f"amount must be a positive whole number of XOF, got {amount!r}")
    existing = _payment(session, household.mutual_id, reference)
    if existing is not None:
        return _check_same(existing, household, amount, paid_on, channel), False
    key = f"payment:{reference}"
    payment = Payment(
        mutual_id=household.mutual_id,
        household_id=household.id,
        amount=amount,
        paid_on=paid_on,
        channel=channel,
        reference=reference,
        agent_id=agent_id,
        ledger_key=key,
    )
    try:
        with session.begin_nested():
            session.add(payment)
    except IntegrityError:
        existing = _payment(session, household.mutual_id, reference)
        if existing is None:
            raise
        return _check_same(existing, household, amount, paid_on, channel), False
    mutual = session.get_one(Mutual, household.mutual_id)
    ledger.post(
        session,
        mutual_id=household.mutual_id,
        key=key,
        kind="payment",
        occurred_on=paid_on,
        lines=[
            (debit_account or debit_account_for(mutual, channel, agent_id), amount),
            (ledger.accounts.household(household.id), -amount),
        ],
        description=f"{channel} payment {reference} for household {household.number}",
    )
    allocate(session, household, on=paid_on)
    return payment, True


def _payment(session: Session, mutual_id: int, reference: str) -> Payment | None:
    return session.scalars(
        select(Payment).where(Payment.mutual_id == mutual_id, Payment.reference == reference)
    ).one_or_none()


def _check_same(
    payment: Payment, household: Household, amount: int, paid_on: dt.date, channel: str
) -> Payment:
    if (payment.household_id, payment.amount, payment.paid_on, payment.channel) != (
        household.id,
        amount,
        paid_on,
        channel,
    ):
        raise PaymentConflict(
            f"payment reference {payment.reference} already recorded with other details"
        )
    return payment


def allocate(session: Session, household: Household, *, on: dt.date) -> list[Allocation]:
    """D7 as of day `on`: automatic periods of fully subsidised households (D3), then the
    registration fee, then whole periods while the credit covers every unpaid share."""
    if ledger.on_hold(session, household.mutual_id):  # a failed audit stops allocation
        return []
    book = load_book(session, household)
    made = _allocate_automatic(session, book, on)
    if book.shares.fully_subsidised:
        return made + _allocate_registration(session, book, on)
    registration = _allocate_registration(session, book, on)
    if not book.registration_paid:
        return made
    return made + registration + _allocate_periods(session, book, on)


def _allocate_registration(session: Session, book: HouseholdBook, on: dt.date) -> list[Allocation]:
    shares = book.shares
    total = shares.registration_member + shares.registration_funder
    if book.registration_paid or total == 0:
        book.registration_paid = True
        return []
    if shares.registration_member > book.credit:
        return []
    household = book.household
    key = f"registration:{household.id}"
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
            b for b in active if book.open_period(b, on) <= period and not book.is_paid(b, period)
        ]
        if due:
            if share * len(due) > book.credit:
                break
            made += _allocate_period(session, book, period, due, on)
        period = next_period(book.product, period)
    return made


def _allocate_automatic(session: Session, book: HouseholdBook, on: dt.date) -> list[Allocation]:
    if not book.shares.fully_subsidised:
        return []
    pending: dict[tuple[Period, dt.date], list[Beneficiary]] = {}
    for beneficiary in book.beneficiaries:
        for paid in automatic_periods(book, beneficiary, on):
            if not book.is_paid(beneficiary, paid.period):
                pending.setdefault((paid.period, paid.allocated_on), []).append(beneficiary)
    made: list[Allocation] = []
    for (period, day), group in sorted(pending.items(), key=lambda item: item[0]):
        made += _allocate_period(session, book, period, group, day)
    return made


def _allocate_period(
    session: Session, book: HouseholdBook, period: Period, group: list[Beneficiary], on: dt.date
) -> list[Allocation]:
    """One balanced transaction for the shares of a group for one period (D7: together)."""
    household, shares, product = book.household, book.shares, book.product
    member = shares.contribution_member * len(group)
    funder = shares.contribution_funder * len(group)
    earned = member + funder
    ids = ",".join(str(b.id) for b in sorted(group, key=lambda b: b.id))
    digest = hashlib.sha256(ids.encode()).hexdigest()[:16]
    key = f"allocation:{household.id}:{period.start.isoformat()}:{digest}"
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
        )
        for b in group
    ]
    session.add_all(rows)
    for b in group:
        book.paid.setdefault(b.id, {})[period.start] = PaidPeriod(period, on)
    book.credit -= member
    return rows


def allocate_due(session: Session, *, on: dt.date) -> int:
    """The daily job (D3, D7): apply household credit that now covers shares, and the
    automatic periods of fully subsidised households. Returns the allocations made."""
    made = 0
    for household in _households_to_allocate(session):
        made += len(allocate(session, household, on=on))
    session.flush()
    return made


def _households_to_allocate(session: Session) -> list[Household]:
    credit_accounts = (
        select(Account.name)
        .join(LedgerEntry, LedgerEntry.account_id == Account.id)
        .where(ledger.accounts.household_accounts())
        .group_by(Account.id, Account.name)
        .having(func.sum(LedgerEntry.amount) < 0)
    )
    named = (ledger.accounts.household_id(name) for name in session.scalars(credit_accounts))
    ids = {household_id for household_id in named if household_id is not None}
    subsidised = (
        select(Household.id)
        .join(Product, Product.id == Household.product_id)
        .join(
            Subsidy, (Subsidy.product_id == Product.id) & (Subsidy.category == Household.category)
        )
        .where(Subsidy.member_share == 0)
    )
    ids.update(session.scalars(subsidised))
    if not ids:
        return []
    return list(
        session.scalars(select(Household).where(Household.id.in_(ids)).order_by(Household.id))
    )
