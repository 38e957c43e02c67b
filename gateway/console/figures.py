"""The home page's key figures for a scope (console.md): each one query bounded by today's
date on an indexed column (payments.paid_on, outbox_messages.created_at), or on a small table
of open items (alerts, suspense lines); nothing counts a log table without a date bound."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.console.scope import Scope, scoped
from gateway.models import Alert, OutboxMessage, OutboxStatus, Payment, SuspenseItem, SuspenseState

SENT = (OutboxStatus.SENT, OutboxStatus.DELIVERED)
FAILED = (OutboxStatus.FAILED, OutboxStatus.REJECTED, OutboxStatus.EXPIRED)


@dataclass(frozen=True)
class Today:
    payments: int
    amount: int  # XOF
    sms_sent: int
    sms_failed: int
    open_alerts: int
    exceptions_waiting: int


def today_figures(session: Session, scope: Scope, now: dt.datetime) -> Today:
    """Today (UTC day of `now`) inside `scope`."""
    day = now.astimezone(dt.UTC).date()
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    paid = scoped(
        select(func.count(Payment.id), func.coalesce(func.sum(Payment.amount), 0)).where(
            Payment.paid_on == day
        ),
        Payment,
        scope,
    )
    count, amount = session.execute(paid).one()
    sms = scoped(
        select(OutboxMessage.status, func.count(OutboxMessage.id))
        .where(OutboxMessage.created_at >= start)
        .group_by(OutboxMessage.status),
        OutboxMessage,
        scope,
    )
    by_status = {OutboxStatus(status): n for status, n in session.execute(sms)}
    alerts = scoped(select(func.count(Alert.id)).where(Alert.resolved_at.is_(None)), Alert, scope)
    waiting = scoped(
        select(func.count(SuspenseItem.id)).where(SuspenseItem.state == SuspenseState.OPEN),
        SuspenseItem,
        scope,
    )
    return Today(
        payments=int(count),
        amount=int(amount),
        sms_sent=sum(by_status.get(s, 0) for s in SENT),
        sms_failed=sum(by_status.get(s, 0) for s in FAILED),
        open_alerts=int(session.scalar(alerts) or 0),
        exceptions_waiting=int(session.scalar(waiting) or 0),
    )
