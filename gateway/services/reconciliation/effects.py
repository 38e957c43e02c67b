"""What reconciliation does with its results (payments.md): a lost callback of a known intent
is applied with the statement line as the provider's truth (payments.apply_status, so it
counts once whatever else arrives); money nobody can place goes to suspense; the statement's
money leaves the float for the bank (Dr bank + Dr provider_fees / Cr float). The line's own
time is the event's time, so money is booked on the business day it was paid."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.models import (
    IntentState,
    LineStatus,
    PaymentIntent,
    ReconMatch,
    StatementDay,
    StatementFile,
    StatementLine,
    SuspenseItem,
)
from gateway.services import ledger, payments
from gateway.services.payments import TERMINAL, ProviderState, StatusResult
from gateway.services.reconciliation.match import CHUNK, DEFAULT_LAG_HOURS, Scope, refresh_missing


def apply_results(session: Session, scope: Scope, lag_hours: int = DEFAULT_LAG_HOURS) -> int:
    """Act once on every line result of the scope that has not been acted on (action NULL);
    returns how many were handled. Ordered by natural key: same inputs, same effects. When a
    line's status was applied to an intent (a lost callback credits it), the missing rows
    are recomputed; holding money in suspense changes none.

    Set-based where it can be: the results' intents and the suspense lines of their intents
    are loaded at once, and the money to hold goes to suspense in one go after the loop
    (payments.hold_in_bulk); lost callbacks go one by one through the state machine."""
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
    rows = session.execute(query).all()
    ids = sorted({result.intent_id for result, _ in rows if result.intent_id is not None})
    intents, known = _load(session, ids)
    holds: list[tuple[ReconMatch, StatementLine, str]] = []
    done = applied = 0
    for result, line in rows:
        intent = intents.get(result.intent_id) if result.intent_id else None
        applied += _act(session, result, line, intent, holds, known)
        done += 1
    _hold(session, holds)
    session.flush()
    if applied:
        refresh_missing(session, scope, lag_hours)
    return done


def _load(
    session: Session, intent_ids: list[int]
) -> tuple[dict[int, PaymentIntent], dict[int, int | None]]:
    """The intents by id, and each one's first suspense line, if any. The intents are held
    here: the session's identity map is weak, so a `session.get` later could query (and
    autoflush) again for each one."""
    intents: dict[int, PaymentIntent] = {}
    first: dict[int, int | None] = {}
    for i in range(0, len(intent_ids), CHUNK):
        chunk = intent_ids[i : i + CHUNK]
        loaded = session.scalars(select(PaymentIntent).where(PaymentIntent.id.in_(chunk)))
        intents.update((intent.id, intent) for intent in loaded)
        first.update(dict.fromkeys(chunk))
        held = (
            select(SuspenseItem.intent_id, func.min(SuspenseItem.id))
            .where(SuspenseItem.intent_id.in_(chunk))
            .group_by(SuspenseItem.intent_id)
        )
        for intent_id, item_id in session.execute(held):
            if intent_id is not None:
                first[intent_id] = item_id
    return intents, first


def _act(
    session: Session,
    result: ReconMatch,
    line: StatementLine,
    intent: PaymentIntent | None,
    holds: list[tuple[ReconMatch, StatementLine, str]],
    known: dict[int, int | None],
) -> bool:
    """Act on one result (money to hold is added to `holds`); True when the line's status
    was applied to its intent. `known`: each intent's suspense line as loaded."""
    paid = line.status == LineStatus.SUCCEEDED
    if not paid:
        if intent is not None and intent.state not in TERMINAL:
            payments.apply_status(session, intent.id, _truth(line), line.occurred_at)
            known.pop(intent.id, None)
            result.action = "failed"
            return True
        result.action = "none"
        return False
    if result.bucket == "duplicate":
        holds.append((result, line, "duplicate"))
    elif intent is None:
        holds.append((result, line, "ambiguous" if result.tier == 4 else "unknown_reference"))
    elif intent.state != IntentState.SUCCEEDED:
        outcome = payments.apply_status(session, intent.id, _truth(line), line.occurred_at)
        known.pop(intent.id, None)
        result.action = outcome[:24]
        result.suspense_id = _suspense_of(session, intent)
        return True
    elif result.bucket == "amount_mismatch":
        found = known[intent.id] if intent.id in known else _suspense_of(session, intent)
        result.suspense_id = found
        result.action = "in_suspense" if result.suspense_id else "person"
    else:
        result.action = "none"
    return False


def _truth(line: StatementLine) -> StatusResult:
    paid = line.status == LineStatus.SUCCEEDED
    state = ProviderState.SUCCEEDED if paid else ProviderState.FAILED
    return StatusResult(
        state=state,
        amount=line.amount,
        currency=line.currency,
        provider_txn_id=line.provider_txn_id,
        msisdn=line.msisdn,
        reason="provider statement",
    )


def _hold(session: Session, holds: list[tuple[ReconMatch, StatementLine, str]]) -> None:
    """Suspense for the lines' money, booked in the statement's mutual (a callback may have
    held it before without knowing the mutual: it is attached and booked now)."""
    by_mutual: dict[int, list[tuple[ReconMatch, StatementLine, str]]] = {}
    for hold in holds:
        by_mutual.setdefault(hold[1].mutual_id, []).append(hold)
    for mutual_id, held in sorted(by_mutual.items()):
        wanted = [
            payments.Hold(
                provider=line.provider,
                provider_txn_id=line.provider_txn_id or line.natural_key,
                amount=line.amount,
                now=line.occurred_at,
                reason=reason,
                currency=line.currency,
                reference=line.reference,
                msisdn=line.msisdn,
            )
            for _, line, reason in held
        ]
        items = payments.hold_in_bulk(session, wanted, mutual_id)
        for (result, _, _), item in zip(held, items, strict=True):
            result.action = "suspense"
            result.suspense_id = item.id


def _suspense_of(session: Session, intent: PaymentIntent) -> int | None:
    query = select(SuspenseItem.id).where(SuspenseItem.intent_id == intent.id)
    return session.scalars(query.order_by(SuspenseItem.id)).first()


def settle(session: Session, scope: Scope) -> int:
    """One settlement per statement file and day: Dr asset:bank (net) + Dr
    expense:provider_fees / Cr asset:float:<provider> (gross), from the totals the import
    kept (`statement_days`). A line belongs to one file only, so each franc leaves the float
    once; replays are no-ops (idempotency key)."""
    D = StatementDay
    query = (
        select(StatementFile.sha256, D.day, D.collected, D.fees)
        .join(StatementFile, StatementFile.id == D.file_id)
        .where(
            D.mutual_id == scope.mutual_id,
            D.provider == scope.provider,
            D.day.in_(scope.days),
            D.paid > 0,
        )
        .order_by(D.day, StatementFile.sha256)
    )
    posted = 0
    for sha, day, gross, fees in session.execute(query).all():
        post_settlement(session, scope, sha, day, gross, fees)
        posted += 1
    return posted


def post_settlement(
    session: Session, scope: Scope, sha: str, day: dt.date, gross: int, fees: int
) -> None:
    lines = [
        (ledger.accounts.bank(), gross - fees),
        (ledger.accounts.provider_fees(), fees),
        (ledger.accounts.provider_float(scope.provider), -gross),
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
