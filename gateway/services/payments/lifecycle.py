"""The intent lifecycle's rules (payments.md): forward only, by precedence, with backoff.

Shared by payment_flow (initiation, answers) and the sweeper's functions."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import IntentState, PaymentIntent

S = IntentState
RANK = {S.CREATED: 0, S.UNKNOWN: 1, S.PENDING: 2, S.FAILED: 3, S.EXPIRED: 3, S.SUCCEEDED: 4}
TERMINAL = frozenset({S.SUCCEEDED, S.FAILED, S.EXPIRED})
POLLED = (S.PENDING, S.UNKNOWN)  # asked for their status until they end
POLL_DELAYS_S = (30, 60, 120, 300, 600, 1800)  # backoff between status queries
# An UNKNOWN intent's first query comes sooner (issue 15): its request left (a timeout, or a
# worker killed while waiting for the answer, noticed seconds later), so the provider knows
# its status now; a PENDING one waits POLL_DELAYS_S[0] for the member to type the PIN.
UNKNOWN_FIRST_POLL_S = 5
ESCALATE_AFTER_POLLS = 12  # failed queries (no answer) before a person is told
STALE_CREATED = dt.timedelta(minutes=2)  # an initiate job that never ran
UNAPPLIED_AFTER = dt.timedelta(minutes=1)  # a callback whose confirm job never ran
MAX_RAW = 64 * 1024
# An EXPIRED intent is asked again this long after its expiry: a member who approved late, or
# a notifier that never called, would otherwise wait for the next statement to be credited.
LATE_CHECKS = (dt.timedelta(hours=1), dt.timedelta(hours=24))


def can_move(current: IntentState, new: IntentState) -> bool:
    return RANK[new] > RANK[current]


def lock(session: Session, intent_id: int) -> PaymentIntent | None:
    # FOR UPDATE on PostgreSQL; SQLite serialises writers with BEGIN IMMEDIATE (gateway.db).
    return session.scalars(
        select(PaymentIntent).where(PaymentIntent.id == intent_id).with_for_update()
    ).first()


def move(
    intent: PaymentIntent, new: IntentState, now: dt.datetime, reason: str | None = None
) -> bool:
    if not can_move(intent.state, new):
        return False
    intent.state = new
    intent.updated_at = now
    if reason:
        intent.reason = reason[:200]
    if new in TERMINAL:
        intent.completed_at = now
        intent.next_poll_at = None
    if new == IntentState.EXPIRED:
        schedule_late_check(intent, now)
    return True


def schedule_late_check(intent: PaymentIntent, now: dt.datetime) -> None:
    """The next of LATE_CHECKS still ahead, or none: then the statement is the last word."""
    due = (intent.expires_at + delay for delay in LATE_CHECKS)
    intent.next_poll_at = next((at for at in due if at > now), None)


def polled(intent: PaymentIntent) -> bool:
    """Status queries are still asked: open intents, and expired ones with a late check."""
    if intent.state == IntentState.EXPIRED:
        return intent.next_poll_at is not None
    return intent.state in POLLED


def schedule_poll(intent: PaymentIntent, now: dt.datetime) -> None:
    """The next status query, by POLL_DELAYS_S's backoff (UNKNOWN_FIRST_POLL_S first for an
    UNKNOWN intent never asked yet)."""
    delay = POLL_DELAYS_S[min(intent.polls, len(POLL_DELAYS_S) - 1)]
    if intent.state == IntentState.UNKNOWN and not intent.polls:
        delay = UNKNOWN_FIRST_POLL_S
    intent.next_poll_at = now + dt.timedelta(seconds=delay)
