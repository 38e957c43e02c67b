"""The sweeper's side of payments (payments.md): what is due (status polls and late checks,
initiations whose job was lost, callback events never applied) and what a query without
answer does (back off; past expiry, close the intent and tell a person). Nothing commits."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from gateway.models import IntentFlag, IntentState, PaymentEvent, PaymentIntent
from gateway.services.alerts import raise_alert
from gateway.services.payments import lifecycle
from gateway.services.payments.lifecycle import ESCALATE_AFTER_POLLS, STALE_CREATED, UNAPPLIED_AFTER


def poll_failed(session: Session, intent_id: int, error: str, now: dt.datetime) -> None:
    """No usable status answer: back off; past expiry, close it and tell a person."""
    intent = lifecycle.lock(session, intent_id)
    if intent is None or not lifecycle.polled(intent):
        return
    if intent.state == IntentState.EXPIRED:
        lifecycle.schedule_late_check(intent, now)
        return
    intent.polls += 1
    intent.updated_at = now
    if now >= intent.expires_at and intent.polls >= ESCALATE_AFTER_POLLS:
        lifecycle.move(
            intent, IntentState.EXPIRED, now, f"no answer from the provider: {error}"[:200]
        )
        intent.flag = IntentFlag.ESCALATED
        raise_alert(
            session,
            kind="payment_escalated",
            subject=f"intent:{intent.reference}",
            detail=f"status unknown after {intent.polls} queries: {error}"[:500],
            now=now,
            mutual_id=intent.mutual_id,
        )
        return
    lifecycle.schedule_poll(intent, now)


def due_polls(session: Session, now: dt.datetime, limit: int = 500) -> list[int]:
    """Non-terminal intents whose next status query is due (or never scheduled), and
    expired ones whose late check is due."""
    due = or_(PaymentIntent.next_poll_at.is_(None), PaymentIntent.next_poll_at <= now)
    query = (
        select(PaymentIntent.id)
        .where(
            or_(
                PaymentIntent.state.in_(lifecycle.POLLED) & due,
                (PaymentIntent.state == IntentState.EXPIRED) & (PaymentIntent.next_poll_at <= now),
            )
        )
        .order_by(PaymentIntent.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def stale_created(session: Session, now: dt.datetime, limit: int = 500) -> list[int]:
    """CREATED intents whose initiate job never ran (enqueue lost with Redis)."""
    query = (
        select(PaymentIntent.id)
        .where(PaymentIntent.state == IntentState.CREATED)
        .where(PaymentIntent.created_at <= now - STALE_CREATED)
        .order_by(PaymentIntent.id)
        .limit(limit)
    )
    return list(session.scalars(query))


# The sweeper's re-enqueues of an unapplied callback are capped (issue 15): past this age, or
# past MAX_CONFIRM_SWEEPS re-enqueues (counted by the worker), a person is told instead.
GIVE_UP_AFTER = dt.timedelta(hours=24)
MAX_CONFIRM_SWEEPS = 20
ABANDONED = "abandoned"


def unapplied_events(session: Session, now: dt.datetime, limit: int = 500) -> list[int]:
    """Callback events recorded but not applied a minute later (their job was lost, or the
    provider could not confirm them yet), younger than GIVE_UP_AFTER."""
    query = (
        _unapplied()
        .where(PaymentEvent.received_at <= now - UNAPPLIED_AFTER)
        .where(PaymentEvent.received_at > now - GIVE_UP_AFTER)
        .order_by(PaymentEvent.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def expired_events(session: Session, now: dt.datetime, limit: int = 500) -> list[int]:
    """Unapplied callback events older than GIVE_UP_AFTER: to be given up (`give_up_event`)."""
    query = (
        _unapplied()
        .where(PaymentEvent.received_at <= now - GIVE_UP_AFTER)
        .order_by(PaymentEvent.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def _unapplied() -> Select[int]:
    return (
        select(PaymentEvent.id)
        .where(PaymentEvent.source == "callback")
        .where(or_(PaymentEvent.outcome.is_(None), PaymentEvent.outcome == "unconfirmed"))
    )


def give_up_event(session: Session, event_id: int, reason: str, now: dt.datetime) -> bool:
    """Stop re-enqueueing an unconfirmable callback: marked ABANDONED (a redelivery of it is
    then a duplicate), and one alert for a person to check it with the provider. False if it
    was applied meanwhile."""
    event = session.get(PaymentEvent, event_id, with_for_update=True)
    if event is None or event.outcome not in (None, "unconfirmed"):
        return False
    event.outcome = ABANDONED
    intent = session.get(PaymentIntent, event.intent_id) if event.intent_id else None
    raise_alert(
        session,
        kind="payment_callback_abandoned",
        subject=f"event:{event.id}",
        detail=(
            f"{event.provider} callback {event.reference or '-'} ({event.state}) could not be "
            f"confirmed: {reason}; check it with the provider"
        )[:500],
        now=now,
        mutual_id=intent.mutual_id if intent else None,
    )
    return True
