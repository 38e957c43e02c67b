"""Which payment intents are stuck (console `/console/payments` shows them first, issue 16),
in the sweeper's own terms (payments.md; gateway.services.payments.sweeps and lifecycle):

- escalated: the status queries went unanswered past expiry (`poll_failed` flags it);
- past its bound: still CREATED, PENDING or UNKNOWN after `expires_at`;
- never initiated: CREATED for longer than `STALE_CREATED` (the initiate job was lost);
- a callback abandoned: an event the sweeper gave up confirming (`give_up_event`).

Each one is something a person must look at; `why_stuck` says which."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from gateway.models import IntentFlag, IntentState, PaymentEvent, PaymentIntent
from gateway.services.payments.lifecycle import STALE_CREATED
from gateway.services.payments.sweeps import ABANDONED

S = IntentState
OPEN = (S.CREATED, S.PENDING, S.UNKNOWN)


ABANDONED_LIMIT = 1000  # intents with a callback given up on: a handful, bounded anyway


def abandoned_intents(session: Session) -> list[int]:
    """Intents with a callback the sweeper gave up on (a partial index, migration 0024)."""
    query = (
        select(PaymentEvent.intent_id)
        .where(PaymentEvent.outcome == ABANDONED, PaymentEvent.intent_id.is_not(None))
        .distinct()
        .limit(ABANDONED_LIMIT)
    )
    return [intent_id for intent_id in session.scalars(query) if intent_id is not None]


def is_stuck(now: dt.datetime, abandoned: Collection[int] = ()) -> ColumnElement[bool]:
    """The SQL condition matching the stuck intents at `now`; `abandoned`: the ids of
    `abandoned_intents`, read first so that each branch is an index probe (an IN over a
    subquery inside an OR would scan the table)."""
    return or_(
        PaymentIntent.flag == IntentFlag.ESCALATED,
        PaymentIntent.state.in_(OPEN) & (PaymentIntent.expires_at <= now),
        (PaymentIntent.state == S.CREATED) & (PaymentIntent.created_at <= now - STALE_CREATED),
        PaymentIntent.id.in_(sorted(abandoned)),
    )


def why_stuck(intent: PaymentIntent, now: dt.datetime, abandoned: bool = False) -> str | None:
    """The first reason `intent` is stuck (catalog key suffix), None when it is not."""
    if intent.flag == IntentFlag.ESCALATED:
        return "escalated"
    if abandoned:
        return "abandoned"
    if intent.state in OPEN and intent.expires_at <= now:
        return "past_bound"
    if intent.state == S.CREATED and intent.created_at <= now - STALE_CREATED:
        return "not_initiated"
    return None
