"""Rows for the console's operations pages (issue 16): outbox messages, payment intents, held
payments and alerts, each at a given moment, in the test's session (the caller commits)."""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.models import (
    Alert,
    Household,
    IntentFlag,
    IntentState,
    Mutual,
    OperatorAction,
    OutboxMessage,
    OutboxStatus,
    Payment,
    PaymentIntent,
)
from gateway.services.coverage import receive_payment
from tests.support.console import NOW

_seq = itertools.count(1)


def sms(
    db: Session,
    household: Household,
    status: OutboxStatus = OutboxStatus.DELIVERED,
    *,
    at: dt.datetime = NOW,
    phone: str = "+22670112233",
    error: str | None = None,
) -> OutboxMessage:
    message = OutboxMessage(
        mutual_id=household.mutual_id,
        household_id=household.id,
        phone=phone,
        template="payment_receipt",
        language="fr",
        text="Recu 6000 XOF",
        reason="receipt",
        status=status,
        last_error=error,
        created_at=at,
        updated_at=at,
    )
    db.add(message)
    db.flush()
    return message


def intent(
    db: Session,
    household: Household,
    state: IntentState = IntentState.SUCCEEDED,
    *,
    at: dt.datetime = NOW - dt.timedelta(hours=1),
    expires_in: dt.timedelta = dt.timedelta(minutes=15),
    flag: IntentFlag | None = None,
    amount: int = 6000,
) -> PaymentIntent:
    row = PaymentIntent(
        mutual_id=household.mutual_id,
        household_id=household.id,
        reference=f"ref-{next(_seq):06d}",
        provider="sandbox",
        msisdn="+22670998877",
        amount=amount,
        state=state,
        flag=flag,
        expires_at=at + expires_in,
        created_at=at,
        updated_at=at,
    )
    db.add(row)
    db.flush()
    return row


def held_payment(db: Session, household: Household, reference: str = "BIG-1") -> Payment:
    """A payment far above what the household could owe: held (issue 14)."""
    payment, _ = receive_payment(
        db,
        household=household,
        amount=500_000,
        paid_on=NOW.date(),
        channel="cash",
        reference=reference,
        now=NOW,
    )
    assert payment.held
    return payment


def alert(
    db: Session,
    mutual: Mutual | None,
    kind: str = "sms_balance",
    *,
    at: dt.datetime = NOW - dt.timedelta(hours=2),
    resolved_at: dt.datetime | None = None,
) -> Alert:
    row = Alert(
        mutual_id=mutual.id if mutual else None,
        kind=kind,
        subject=f"{kind}:{next(_seq)}",
        detail="low SMS balance",
        dedupe_key=f"{kind}:{next(_seq)}",
        created_at=at,
        resolved_at=resolved_at,
    )
    db.add(row)
    db.flush()
    return row


def action_count(db: Session) -> int:
    """Rows of operator_actions, read without keeping the SQLite write lock."""
    count = int(db.scalar(select(func.count(OperatorAction.id))) or 0)
    db.rollback()
    return count
