"""Resending a FAILED SMS (gateway.services.messaging.resend, console `/console/sms`, issue 16):
a QUEUED copy at most once per failed message, its send job deferred to the commit; the failed
row stays FAILED (the lifecycle is forward only)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from gateway.models import Mutual, OutboxMessage, OutboxStatus
from gateway.queueing import DEFERRED
from gateway.services.messaging import outbox
from gateway.services.messaging.resend import NotResendable, resend_failed

NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


def _message(db: Session, mutual: Mutual, status: OutboxStatus) -> OutboxMessage:
    message = OutboxMessage(
        mutual_id=mutual.id,
        phone="+22670112233",
        template="help",
        language="fr",
        text="Aide",
        reason="other",
        status=status,
    )
    db.add(message)
    db.flush()
    return message


def test_a_failed_message_is_copied_once(db: Session, mutual: Mutual) -> None:
    failed = _message(db, mutual, OutboxStatus.FAILED)
    copy, made = resend_failed(db, failed, NOW)
    assert made and copy.id != failed.id
    assert (copy.status, copy.phone, copy.text, copy.created_at) == (
        OutboxStatus.QUEUED,
        failed.phone,
        failed.text,
        NOW,
    )
    assert failed.status == OutboxStatus.FAILED
    assert db.info[DEFERRED] == [("send-sms", (str(copy.id),), None)]
    again, made_again = resend_failed(db, failed, NOW)
    assert (again.id, made_again) == (copy.id, False)
    assert len(db.info[DEFERRED]) == 1


@pytest.mark.parametrize("status", [OutboxStatus.REJECTED, OutboxStatus.DELIVERED])
def test_only_failed_messages_are_resent(db: Session, mutual: Mutual, status: OutboxStatus) -> None:
    with pytest.raises(NotResendable, match="not FAILED"):
        resend_failed(db, _message(db, mutual, status), NOW)


def test_a_concurrent_resend_that_won_is_returned(
    db: Session, mutual: Mutual, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other operator's copy was inserted between our look-up and our insert: the unique
    key refuses ours, and theirs is the answer."""
    failed = _message(db, mutual, OutboxStatus.FAILED)
    theirs, _ = resend_failed(db, failed, NOW)
    db.info.pop(DEFERRED)
    looked_up = outbox._by_dedupe_key
    calls: list[str] = []

    def late(session: Session, key: str) -> OutboxMessage | None:
        calls.append(key)
        return None if len(calls) == 1 else looked_up(session, key)

    monkeypatch.setattr(outbox, "_by_dedupe_key", late)
    found, made = resend_failed(db, failed, NOW)
    assert (found.id, made) == (theirs.id, False)
    assert DEFERRED not in db.info
