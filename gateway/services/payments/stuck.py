"""Which payment intents are stuck (console `/console/payments` shows them first, issue 16),
in the sweeper's own terms (payments.md; gateway.services.payments.sweeps and lifecycle):

- escalated: the status queries went unanswered past expiry (`poll_failed` flags it);
- past its bound: still CREATED, PENDING or UNKNOWN after `expires_at`;
- never initiated: CREATED for longer than `STALE_CREATED` (the initiate job was lost);
- a callback abandoned: an event the sweeper gave up confirming (`give_up_event`).

Each one is something a person must look at; `why_stuck` says which."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, or_, select

from gateway.models import IntentFlag, IntentState, PaymentEvent, PaymentIntent
from gateway.services.payments.lifecycle import STALE_CREATED
from gateway.services.payments.sweeps import ABANDONED

S = IntentState
OPEN = (S.CREATED, S.PENDING, S.UNKNOWN)


def stuck(now: dt.datetime) -> ColumnElement[bool]:
    """The SQL condition matching the stuck intents at `now`."""
    abandoned = select(PaymentEvent.intent_id).where(
        PaymentEvent.outcome == ABANDONED, PaymentEvent.intent_id.is_not(None)
    )
    return or_(
        PaymentIntent.flag == IntentFlag.ESCALATED,
        PaymentIntent.state.in_(OPEN) & (PaymentIntent.expires_at <= now),
        (PaymentIntent.state == S.CREATED) & (PaymentIntent.created_at <= now - STALE_CREATED),
        PaymentIntent.id.in_(abandoned),
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
