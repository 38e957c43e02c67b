"""What reconciliation does with its results (payments.md): a lost callback of a known intent
is applied with the statement line as the provider's truth (payment_flow.apply_status, so it
counts once whatever else arrives); money nobody can place goes to suspense; the statement's
money leaves the float for the bank (Dr bank + Dr provider_fees / Cr float). The line's own
time is the event's time, so money is booked on the business day it was paid."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.models import (
    PaymentIntent,
    ReconMatch,
    StatementFile,
    StatementLine,
    SuspenseItem,
)
from gateway.providers.payments.base import ProviderState, StatusResult
from gateway.services import ledger, payment_effects, payment_flow
from gateway.services.payment_state import TERMINAL
from gateway.services.reconcile_match import DEFAULT_LAG_HOURS, Scope, refresh_missing


def apply_results(session: Session, scope: Scope, lag_hours: int = DEFAULT_LAG_HOURS) -> int:
    """Act once on every line result of the scope that has not been acted on (action NULL);
    returns how many were handled. Ordered by natural key: same inputs, same effects. When a
    line's status was applied to an intent (a lost callback credits it), the missing rows
    are recomputed; holding money in suspense changes none."""
    query = (
        select(ReconMatch, StatementLine)
        .join(StatementLine, StatementLine.id == ReconMatch.line_id)
        .where(
            ReconMatch.mutual_id == scope.mutual_id,
            ReconMatch.provider == scope.provider,
            ReconMatch.day.in_(scope.days),
            ReconMatch.action.is_(None),
        )
        .order_by(StatementLine.natural_key)
    )
    done = applied = 0
    for result, line in session.execute(query).all():
        intent = session.get(PaymentIntent, result.intent_id) if result.intent_id else None
        applied += _act(session, result, line, intent)
        done += 1
    session.flush()
    if applied:
        refresh_missing(session, scope, lag_hours)
    return done


def _act(
    session: Session, result: ReconMatch, line: StatementLine, intent: PaymentIntent | None
) -> bool:
    """Act on one result; True when the line's status was applied to its intent."""
    paid = line.status == "SUCCEEDED"
    if not paid:
        if intent is not None and intent.state not in TERMINAL:
            payment_flow.apply_status(session, intent.id, _truth(line), line.occurred_at)
            result.action = "failed"
            return True
        result.action = "none"
        return False
    if result.bucket == "duplicate":
        _hold(session, result, line, "duplicate")
    elif intent is None:
        _hold(session, result, line, "ambiguous" if result.tier == 4 else "unknown_reference")
    elif intent.state != "SUCCEEDED":
        outcome = payment_flow.apply_status(session, intent.id, _truth(line), line.occurred_at)
        result.action = outcome[:24]
        result.suspense_id = _suspense_of(session, intent)
        return True
    elif result.bucket == "amount_mismatch":
        result.suspense_id = _suspense_of(session, intent)
        result.action = "in_suspense" if result.suspense_id else "person"
    else:
        result.action = "none"
    return False


def _truth(line: StatementLine) -> StatusResult:
    state = ProviderState.SUCCEEDED if line.status == "SUCCEEDED" else ProviderState.FAILED
    return StatusResult(
        state=state,
        amount=line.amount,
        currency=line.currency,
        provider_txn_id=line.provider_txn_id,
        msisdn=line.msisdn,
        reason="provider statement",
    )


def _hold(session: Session, result: ReconMatch, line: StatementLine, reason: str) -> None:
    """Suspense for the line's money, booked in the statement's mutual (a callback may have
    held it before without knowing the mutual: it is attached and booked now)."""
    txn = line.provider_txn_id or line.natural_key
    item = payment_effects.to_suspense(
        session,
        provider=line.provider,
        provider_txn_id=txn,
        amount=line.amount,
        now=line.occurred_at,
        reason=reason,
        currency=line.currency,
        reference=line.reference,
        msisdn=line.msisdn,
    )
    if item.mutual_id is None:
        payment_effects.book_suspense(session, item, line.mutual_id)
    result.action = "suspense"
    result.suspense_id = item.id


def _suspense_of(session: Session, intent: PaymentIntent) -> int | None:
    query = select(SuspenseItem.id).where(SuspenseItem.intent_id == intent.id)
    return session.scalars(query.order_by(SuspenseItem.id)).first()


def settle(session: Session, scope: Scope) -> int:
    """One settlement per statement file and day: Dr asset:bank (net) + Dr
    expense:provider_fees / Cr asset:float:<provider> (gross). A line belongs to one file
    only, so each franc leaves the float once; replays are no-ops (idempotency key)."""
    L = StatementLine
    query = (
        select(L.file_id, StatementFile.sha256, L.day, func.sum(L.amount), func.sum(L.fee))
        .join(StatementFile, StatementFile.id == L.file_id)
        .where(
            L.mutual_id == scope.mutual_id,
            L.provider == scope.provider,
            L.day.in_(scope.days),
            L.status == "SUCCEEDED",
        )
        .group_by(L.file_id, StatementFile.sha256, L.day)
        .order_by(L.day, StatementFile.sha256)
    )
    posted = 0
    for _file_id, sha, day, gross, fees in session.execute(query).all():
        gross, fees = int(gross), int(fees)
        post_settlement(session, scope, sha, day, gross, fees)
        posted += 1
    return posted


def post_settlement(
    session: Session, scope: Scope, sha: str, day: dt.date, gross: int, fees: int
) -> None:
    lines = [
        ("asset:bank", gross - fees),
        ("expense:provider_fees", fees),
        (f"asset:float:{scope.provider}", -gross),
    ]
    ledger.post(
        session,
        mutual_id=scope.mutual_id,
        key=f"settlement:{scope.provider}:{sha[:16]}:{day.isoformat()}",
        kind="settlement",
        occurred_on=day,
        lines=[(name, amount) for name, amount in lines if amount],
        description=f"{scope.provider} statement {sha[:12]} of {day.isoformat()}",
    )
