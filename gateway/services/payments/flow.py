"""The intent state machine (payments.md): forward only, events ordered by precedence.

CREATED -> PENDING -> SUCCEEDED | FAILED | EXPIRED, plus UNKNOWN (initiation outcome not
known: resolved by status queries, never by a new request). A verified success may still move
FAILED/EXPIRED to SUCCEEDED (flagged late); nothing leaves SUCCEEDED. Callbacks arrive 0..N
times in any order: each distinct provider event is stored once and its effect applied once.
Nothing here commits: callers commit around provider calls (intent first, then the call)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import IntentFlag, IntentState, PaymentEvent, PaymentIntent
from gateway.services.alerts import raise_alert
from gateway.services.payments import effects, events, lifecycle
from gateway.services.payments.lifecycle import TERMINAL
from gateway.services.payments.port import (
    CallbackEvent,
    InitiateResult,
    Initiation,
    ProviderState,
    StatusResult,
)

# --- initiation ------------------------------------------------------------------------


def start_initiation(session: Session, intent_id: int, now: dt.datetime) -> PaymentIntent | None:
    """The intent when a provider request must leave now (the attempt is counted, so the
    caller commits before calling); None otherwise. An earlier attempt whose outcome never
    came back (worker killed, timeout) makes the intent UNKNOWN: polled, never re-sent."""
    intent = lifecycle.lock(session, intent_id)
    if intent is None or intent.state != IntentState.CREATED:
        return None
    if intent.initiate_attempts > 0:
        lifecycle.move(intent, IntentState.UNKNOWN, now, "initiation outcome unknown")
        lifecycle.schedule_poll(intent, now)
        return None
    intent.initiate_attempts += 1
    intent.updated_at = now
    return intent


def record_initiation(
    session: Session, intent_id: int, result: InitiateResult, now: dt.datetime
) -> PaymentIntent:
    intent = lifecycle.lock(session, intent_id)
    if intent is None:
        raise LookupError(f"no payment intent {intent_id}")
    if result.provider_txn_id and not intent.provider_txn_id:
        _set_txn(session, intent, result.provider_txn_id, now)
    if result.outcome is Initiation.ACCEPTED:
        lifecycle.move(intent, IntentState.PENDING, now)
    elif result.outcome is Initiation.REJECTED:
        if lifecycle.move(
            intent, IntentState.FAILED, now, result.reason or "refused by the provider"
        ):
            effects.queue_failure(session, intent)
    else:
        lifecycle.move(
            intent, IntentState.UNKNOWN, now, result.reason or "initiation outcome unknown"
        )
    if intent.state not in TERMINAL:
        lifecycle.schedule_poll(intent, now)
    return intent


# --- callbacks and status answers --------------------------------------------------------


def apply_event(
    session: Session, event_id: int, confirmation: StatusResult | None, now: dt.datetime
) -> str:
    """Apply a stored event once. Signed events are trusted; others only through a status
    answer (`confirmation`), which is the truth even when it disagrees with the claim."""
    event = session.get_one(PaymentEvent, event_id)
    if event.outcome not in (None, "unconfirmed"):
        return "duplicate"
    if event.verified:
        truth = StatusResult(
            state=ProviderState(event.state),
            amount=event.amount,
            currency=event.currency,
            provider_txn_id=event.provider_txn_id,
            msisdn=event.msisdn,
        )
    elif confirmation is None:
        event.outcome = "unconfirmed"
        return "unconfirmed"
    else:
        truth = confirmation
    intent = _locked_intent(session, event.intent_id)
    if intent is None:
        outcome = _unmatched(session, event, truth, now)
    else:
        outcome = _apply_truth(session, intent, truth, now)
    if truth.state.value != event.state:
        outcome = "disagrees"  # the claim was not the truth: the truth was applied instead
    event.outcome = outcome
    return outcome


def apply_status(session: Session, intent_id: int, status: StatusResult, now: dt.datetime) -> str:
    """A status answer (poll or confirmation): kept as an event, then applied."""
    intent = lifecycle.lock(session, intent_id)
    if intent is None:
        raise LookupError(f"no payment intent {intent_id}")
    intent.polls += 1
    key = f"status:{intent.reference}:{status.state.value}:{status.provider_txn_id or '-'}"
    event, created = events.record_event(
        session,
        intent.provider,
        CallbackEvent(
            event_key=key,
            reference=intent.reference,
            provider_txn_id=status.provider_txn_id,
            state=status.state,
            amount=status.amount,
            currency=status.currency,
            msisdn=status.msisdn,
            verified=True,
            needs_confirmation=False,
            reason=status.reason,
        ),
        None,
        now,
        source="status",
    )
    outcome = _apply_truth(session, intent, status, now)
    if intent.state == IntentState.EXPIRED:  # a late check that found no success
        if status.state is ProviderState.PENDING:
            lifecycle.schedule_late_check(intent, now)  # the next one, if any is left
        else:
            intent.next_poll_at = None  # the provider's answer is final
    if created:
        event.outcome = outcome
    return outcome


def _apply_truth(
    session: Session, intent: PaymentIntent, truth: StatusResult, now: dt.datetime
) -> str:
    state = truth.state
    if state is ProviderState.SUCCEEDED:
        return _succeeded(session, intent, truth, now)
    if state is ProviderState.FAILED:
        if intent.state == IntentState.SUCCEEDED:
            return "stale"
        if lifecycle.move(
            intent, IntentState.FAILED, now, truth.reason or "failed at the provider"
        ):
            effects.queue_failure(session, intent)
            return "failed"
        return "ignored"
    if state is ProviderState.NOT_FOUND and now >= intent.expires_at:
        # MTN-style 404: the request never reached the provider; the member may dial again.
        if lifecycle.move(intent, IntentState.FAILED, now, "never reached the provider"):
            effects.queue_failure(session, intent)
            return "failed"
        return "ignored"
    if state is ProviderState.PENDING:
        lifecycle.move(intent, IntentState.PENDING, now)
    if intent.state not in TERMINAL:
        _expire_or_schedule(session, intent, now)
    return "pending"


def _succeeded(
    session: Session, intent: PaymentIntent, truth: StatusResult, now: dt.datetime
) -> str:
    if intent.state == IntentState.SUCCEEDED:
        return "duplicate"
    txn = truth.provider_txn_id or intent.provider_txn_id or f"ref:{intent.reference}"
    if intent.provider_txn_id is None and not _set_txn(session, intent, txn, now):
        return "conflict"
    late = intent.state in (IntentState.FAILED, IntentState.EXPIRED)
    amount = truth.amount if truth.amount is not None else intent.amount
    if amount != intent.amount or (truth.currency or "XOF") != intent.currency:
        lifecycle.move(
            intent,
            IntentState.SUCCEEDED,
            now,
            f"provider collected {amount} {truth.currency or ''}",
        )
        intent.flag = IntentFlag.AMOUNT_MISMATCH
        if amount > 0:
            effects.to_suspense(
                session,
                provider=intent.provider,
                provider_txn_id=txn,
                amount=amount,
                currency=truth.currency,
                reference=intent.reference,
                msisdn=truth.msisdn or intent.msisdn,
                now=now,
                reason="amount_mismatch",
                intent=intent,
            )
        return "mismatch"
    lifecycle.move(intent, IntentState.SUCCEEDED, now)
    effects.credit_household(session, intent, amount, now)
    if late:
        intent.flag = IntentFlag.LATE
        raise_alert(
            session,
            kind="payment_late",
            subject=f"intent:{intent.reference}",
            detail=f"success confirmed after the intent was closed; {amount} XOF allocated",
            now=now,
            mutual_id=intent.mutual_id,
        )
    return "applied"


def _unmatched(session: Session, event: PaymentEvent, truth: StatusResult, now: dt.datetime) -> str:
    """Verified money with no intent of ours goes to suspense, never to a member."""
    if truth.state is not ProviderState.SUCCEEDED or not truth.amount or truth.amount <= 0:
        return "ignored"
    effects.to_suspense(
        session,
        provider=event.provider,
        provider_txn_id=truth.provider_txn_id or event.provider_txn_id or event.event_key,
        amount=truth.amount,
        currency=truth.currency,
        reference=event.reference,
        msisdn=truth.msisdn or event.msisdn,
        now=now,
        reason="unknown_reference",
    )
    return "suspense"


def _set_txn(session: Session, intent: PaymentIntent, txn: str, now: dt.datetime) -> bool:
    """One provider transaction, one intent: a second claim on it is an alert, not money."""
    other = session.scalars(
        select(PaymentIntent).where(
            PaymentIntent.provider == intent.provider,
            PaymentIntent.provider_txn_id == txn,
            PaymentIntent.id != intent.id,
        )
    ).first()
    if other is not None:
        raise_alert(
            session,
            kind="payment_conflict",
            subject=f"txn:{intent.provider}:{txn}",
            detail=f"transaction claimed by intents {other.reference} and {intent.reference}",
            now=now,
            mutual_id=intent.mutual_id,
        )
        return False
    intent.provider_txn_id = txn[:100]
    return True


def _expire_or_schedule(session: Session, intent: PaymentIntent, now: dt.datetime) -> None:
    if now >= intent.expires_at:
        if lifecycle.move(intent, IntentState.EXPIRED, now, "not approved in time"):
            effects.queue_failure(session, intent)
        return
    lifecycle.schedule_poll(intent, now)


def _locked_intent(session: Session, intent_id: int | None) -> PaymentIntent | None:
    return lifecycle.lock(session, intent_id) if intent_id is not None else None
