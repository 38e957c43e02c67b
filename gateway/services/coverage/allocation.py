"""Money in (D7, D7b): record a payment once, credit the household, then apply its credit in
payment-date order; a payment far above what the household could owe waits for an operator."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.clock import Clock
from gateway.models import Household, Mutual, Payment
from gateway.services import ledger
from gateway.services.alerts import raise_alert
from gateway.services.coverage.book import HouseholdBook, load_book
from gateway.services.coverage.date_order import settle

PERIODS_A_YEAR = {"year": 1, "month": 12}


class PaymentConflict(ValueError):
    """A payment reference already recorded with other details."""


class NotHeld(ValueError):
    """Releasing a payment that is not waiting for an operator."""


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
    now: dt.datetime | None = None,
) -> tuple[Payment, bool]:
    """Record money for a household once per (mutual, reference), then allocate it as of the
    day it was paid, in date order with the household's other payments (D7b). Replaying the
    same payment is a no-op; other details are a conflict. `debit_account` names where the
    money sits when the channel's default is not it (e.g. the float of the provider that
    collected a mobile payment). A payment above the mutual's hold limit is recorded but
    held (`Payment.held`) for an operator: `release_payment`."""
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise ValueError(f"amount must be a positive whole number of XOF, got {amount!r}")
    existing = _payment(session, household.mutual_id, reference)
    if existing is not None:
        return _check_same(existing, household, amount, paid_on, channel), False
    now = now or Clock().now()
    mutual = session.get_one(Mutual, household.mutual_id)
    book = load_book(session, household)
    limit = hold_limit(mutual, book, paid_on)
    payment = Payment(
        mutual_id=household.mutual_id,
        household_id=household.id,
        amount=amount,
        paid_on=paid_on,
        channel=channel,
        reference=reference,
        agent_id=agent_id,
        ledger_key=f"payment:{reference}",
    )
    if limit is not None and amount > limit:
        payment.hold_reason = (
            f"{amount} XOF is more than {mutual.payment_hold_multiple} years of the "
            f"household's shares ({limit} XOF)"
        )
    try:
        with session.begin_nested():
            session.add(payment)
    except IntegrityError:
        existing = _payment(session, household.mutual_id, reference)
        if existing is None:
            raise
        return _check_same(existing, household, amount, paid_on, channel), False
    credited = ledger.accounts.held_payments() if payment.held else None
    ledger.post(
        session,
        mutual_id=household.mutual_id,
        key=payment.ledger_key,
        kind="payment",
        occurred_on=paid_on,
        lines=[
            (debit_account or debit_account_for(mutual, channel, agent_id), amount),
            (credited or ledger.accounts.household(household.id), -amount),
        ],
        description=f"{channel} payment {reference} for household {household.number}",
    )
    if payment.held:
        _alert_held(session, household, payment, now)
    else:
        settle(session, household, since=paid_on, now=now, why=f"payment {reference}", book=book)
    return payment, True


def hold_limit(mutual: Mutual, book: HouseholdBook, on: dt.date) -> int | None:
    """The most a household could owe: `payment_hold_multiple` years of its active members'
    shares (at least one member), plus its unpaid registration fee; None: no limit (0)."""
    if mutual.payment_hold_multiple == 0:
        return None
    shares = book.shares
    members = max(1, len(book.active(on)))
    yearly = shares.contribution_member * PERIODS_A_YEAR[book.product.period] * members
    registration = 0 if book.registration_paid else shares.registration_member
    return mutual.payment_hold_multiple * yearly + registration


def release_payment(
    session: Session, payment: Payment, *, by: str, now: dt.datetime | None = None
) -> Payment:
    """An operator accepts a held payment: its money moves to the household's credit and is
    allocated as of its payment date (D7, D7b)."""
    if not payment.held:
        raise NotHeld(f"payment {payment.reference} is not held")
    now = now or Clock().now()
    household = session.get_one(Household, payment.household_id)
    ledger.post(
        session,
        mutual_id=payment.mutual_id,
        key=f"release:{payment.reference}",
        kind="release",
        occurred_on=payment.paid_on,
        lines=[
            (ledger.accounts.held_payments(), payment.amount),
            (ledger.accounts.household(household.id), -payment.amount),
        ],
        description=f"held payment {payment.reference} released by {by}"[:300],
    )
    payment.released_at = now
    payment.released_by = by[:100]
    session.flush()
    settle(session, household, since=payment.paid_on, now=now, why=f"payment {payment.reference}")
    return payment


def held_payments(session: Session, mutual_id: int) -> list[Payment]:
    """Payments waiting for an operator, oldest first."""
    query = select(Payment).where(
        Payment.mutual_id == mutual_id,
        Payment.hold_reason.is_not(None),
        Payment.released_at.is_(None),
    )
    return list(session.scalars(query.order_by(Payment.paid_on, Payment.id)))


def _alert_held(session: Session, household: Household, payment: Payment, now: dt.datetime) -> None:
    raise_alert(
        session,
        kind="payment_held",
        subject=f"payment {payment.reference}",
        detail=(
            f"household {household.number}: {payment.hold_reason}; held until an operator "
            f"releases it (gateway payments release {payment.reference})"
        ),
        now=now,
        mutual_id=household.mutual_id,
    )


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
