"""Resending a FAILED SMS (console `/console/sms`, issue 16; messaging.md).

The lifecycle is forward only and FAILED is final (outbox.TRANSITIONS), so a resend never
moves the failed row back: it queues a copy (same phone, household, template, language, text
and reason) with the dedupe key `resend:<failed id>`, so resending the same failed message
twice (a double click, two operators) queues one copy. The send job is deferred to the
session's commit (gateway.queueing.defer: enqueued after commit, architecture.md); the
`sms-dispatch` sweeper sends it anyway if that enqueue is lost. The caller commits."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from gateway.models import OutboxMessage, OutboxStatus
from gateway.queueing import defer
from gateway.services.messaging.outbox import add_once

RESENDABLE = frozenset({OutboxStatus.FAILED})


class NotResendable(ValueError):
    """Only a FAILED message is resent (a REJECTED number would be rejected again)."""


def resend_key(message: OutboxMessage) -> str:
    return f"resend:{message.id}"


def resend_failed(
    session: Session, message: OutboxMessage, now: dt.datetime
) -> tuple[OutboxMessage, bool]:
    """The QUEUED copy of `message` and whether this call made it (False: resent before,
    by this operator or a concurrent one whose insert won the unique key)."""
    if message.status not in RESENDABLE:
        raise NotResendable(f"message {message.id} is {message.status}, not FAILED")
    copy = OutboxMessage(
        mutual_id=message.mutual_id,
        household_id=message.household_id,
        phone=message.phone,
        template=message.template,
        language=message.language,
        text=message.text,
        reason=message.reason,
        status=OutboxStatus.QUEUED,
        dedupe_key=resend_key(message),
        created_at=now,
        updated_at=now,
    )
    kept, added = add_once(session, copy)
    if added:
        defer(session, "send-sms", str(kept.id))
    return kept, added
