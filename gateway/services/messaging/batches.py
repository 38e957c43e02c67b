"""Batch sending (messaging.md, "Throughput") and campaign pauses, on top of the per-message
outbox lifecycle of gateway.services.messaging.outbox.

Identical texts of one mutual go to the provider in one request (up to the batch size, each
phone once per batch); each message is still claimed QUEUED -> SENDING before the request
and gets its own recipient's answer after it. Messages of a paused campaign are neither
batched nor claimed: they wait QUEUED until the campaign is resumed. Insufficient balance
(Africa's Talking 405) pauses the campaigns of the messages it hit and puts those messages
back in the queue; a message of no campaign fails, as before, with an alert."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Exists, select, text, update
from sqlalchemy.orm import Session

from gateway.models import Alert, Campaign, Mutual, OutboxMessage, OutboxStatus, ReminderOccurrence
from gateway.models.outbox import ERROR_LEN
from gateway.services.alerts import raise_alert
from gateway.services.messaging import outbox

PAUSE_REASON_LEN = 200


@dataclass(frozen=True)
class Answer:
    """The provider's answer for one message (messaging.port.SendResult, by id)."""

    message_id: int
    outcome: str
    provider_message_id: str | None = None
    detail: str | None = None


def held() -> Exists:
    """True for a message of a paused campaign (through its reminder occurrence): a
    correlated NOT EXISTS probe by outbox id (indexed, migration 0011), so that checking a
    batch costs one index lookup per message rather than a scan of every occurrence."""
    return (
        select(ReminderOccurrence.id)
        .join(Campaign, Campaign.id == ReminderOccurrence.campaign_id)
        .where(ReminderOccurrence.outbox_id == OutboxMessage.id, Campaign.paused_at.is_not(None))
        .exists()
    )


def pending_batches(session: Session, size: int, limit: int | None = None) -> list[list[int]]:
    """QUEUED messages not held by a paused campaign, in batches of at most `size`: messages
    of the same mutual and text are kept next to each other (oldest text first), so that the
    sender puts each group of identical texts in one provider request."""
    if size < 1:
        raise ValueError("batch size must be at least 1")
    rows = session.execute(
        select(OutboxMessage.id, OutboxMessage.mutual_id, OutboxMessage.text)
        .where(OutboxMessage.status == OutboxStatus.QUEUED, ~held())
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    groups: dict[tuple[int, str], list[int]] = {}
    for message_id, mutual_id, body in rows:
        groups.setdefault((mutual_id, body), []).append(message_id)
    ordered = [message_id for ids in groups.values() for message_id in ids]
    return [ordered[i : i + size] for i in range(0, len(ordered), size)]


def claim_batch(session: Session, ids: Sequence[int], now: dt.datetime) -> list[OutboxMessage]:
    """QUEUED -> SENDING for the given messages still QUEUED and not held, in one UPDATE
    that returns the claimed rows (no second read); the caller commits before calling the
    provider. Returns the claimed messages, by id.

    The rows are found and locked by primary key first (FOR UPDATE SKIP LOCKED on
    PostgreSQL: a row another worker is claiming is left to it), and their status is checked
    on the locked row: the planner cannot trade the id lookup for a scan of every QUEUED
    message through the status index when its statistics under-count a fresh backlog."""
    if not ids:
        return []
    locked = (
        select(OutboxMessage.id, OutboxMessage.status)
        .where(OutboxMessage.id.in_(list(ids)))
        .with_for_update(skip_locked=True)
        .cte("locked")
    )
    claimed = session.scalars(
        update(OutboxMessage)
        .where(OutboxMessage.id == locked.c.id, locked.c.status == OutboxStatus.QUEUED, ~held())
        .values(status=OutboxStatus.SENDING, attempts=OutboxMessage.attempts + 1, updated_at=now)
        .returning(OutboxMessage)
        .execution_options(synchronize_session=False, populate_existing=True)
    ).all()
    return sorted(claimed, key=lambda message: message.id)


def apply_answers(
    session: Session, provider: str, answers: Sequence[Answer], now: dt.datetime
) -> dict[int, OutboxStatus]:
    """Each message's answer applied as outbox.record_send does, except insufficient
    balance for a campaign's message: the campaign is paused and the message waits."""
    statuses = _accept(session, provider, [a for a in answers if a.outcome == "accepted"], now)
    answers = [a for a in answers if a.message_id not in statuses]
    broke = [a.message_id for a in answers if a.outcome == "insufficient_balance"]
    campaigns = campaigns_of(session, broke) if broke else {}
    ids = [a.message_id for a in answers]
    loaded: list[OutboxMessage] = []  # held, so that record_send finds them in the session
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        loaded += session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(chunk)))
    with session.no_autoflush:
        for answer in answers:
            statuses[answer.message_id] = _apply(session, provider, answer, campaigns, now)
    return statuses


# One statement whatever the number of answers (arrays, not a VALUES list to compile per
# batch), so psycopg prepares it once per connection.
ACCEPT_PG = text(
    """
    UPDATE outbox_messages AS o
    SET status = 'SENT', provider = :provider, provider_message_id = given.pid,
        sent_at = :now, updated_at = :now, last_error = NULL
    FROM unnest(CAST(:mids AS integer[]), CAST(:pids AS varchar[])) AS given (mid, pid)
    WHERE o.id = given.mid AND o.status = 'SENDING'
    RETURNING o.id
    """
)


def _accept(
    session: Session, provider: str, answers: Sequence[Answer], now: dt.datetime
) -> dict[int, OutboxStatus]:
    """SENDING -> SENT with each message's provider id, in one UPDATE ... FROM unnest(ids,
    provider ids) (as record_send does for an accepted answer, without one statement per
    message). Messages no longer SENDING are left to record_send, which knows the lifecycle.
    PostgreSQL only: SQLite's per-row updates are in-process."""
    if not answers or session.get_bind().dialect.name != "postgresql":
        return {}
    updated = session.execute(
        ACCEPT_PG,
        {
            "provider": provider,
            "now": now,
            "mids": [a.message_id for a in answers],
            "pids": [a.provider_message_id for a in answers],
        },
    )
    return {int(mid): OutboxStatus.SENT for mid in updated.scalars()}


def _apply(
    session: Session,
    provider: str,
    answer: Answer,
    campaigns: dict[int, Campaign],
    now: dt.datetime,
) -> OutboxStatus:
    campaign = campaigns.get(answer.message_id)
    if answer.outcome == "insufficient_balance" and campaign is not None:
        status = _requeue(session, answer, provider, now)
        pause_campaign(session, campaign, f"{provider}: insufficient balance", now)
        return status
    status = outbox.record_send(
        session,
        answer.message_id,
        provider=provider,
        outcome=answer.outcome,
        now=now,
        provider_message_id=answer.provider_message_id,
        detail=answer.detail,
    )
    if answer.outcome == "insufficient_balance":
        message = session.get(OutboxMessage, answer.message_id)
        raise_alert(
            session,
            kind="sms_balance",
            subject=provider,
            detail=f"insufficient balance: message {answer.message_id} failed",
            now=now,
            mutual_id=message.mutual_id if message else None,
            key=f"sms-balance:{provider}:{now.date().isoformat()}",
        )
    return status


def _requeue(session: Session, answer: Answer, provider: str, now: dt.datetime) -> OutboxStatus:
    """Nothing was sent: back to QUEUED without spending one of the message's attempts."""
    message = session.get(OutboxMessage, answer.message_id)
    if message is None:
        raise LookupError(f"no outbox message {answer.message_id}")
    message.provider = provider
    message.attempts = max(0, message.attempts - 1)
    message.last_error = f"insufficient_balance: {answer.detail or '-'}"[:ERROR_LEN]
    outbox.advance(message, OutboxStatus.QUEUED, now)
    return message.status


def campaigns_of(session: Session, message_ids: Sequence[int]) -> dict[int, Campaign]:
    """Message id -> the campaign a reminder message belongs to (through its occurrence)."""
    rows = session.execute(
        select(ReminderOccurrence.outbox_id, Campaign)
        .join(Campaign, ReminderOccurrence.campaign_id == Campaign.id)
        .where(ReminderOccurrence.outbox_id.in_(list(message_ids)))
    )
    return {int(mid): campaign for mid, campaign in rows if mid is not None}


def pause_campaign(session: Session, campaign: Campaign, reason: str, now: dt.datetime) -> bool:
    """Pause once and alert once; False if it was already paused."""
    if campaign.paused_at is not None:
        return False
    campaign.paused_at = now
    campaign.paused_reason = reason[:PAUSE_REASON_LEN]
    mutual = session.get(Mutual, campaign.mutual_id)
    raise_alert(
        session,
        kind="campaign_paused",
        subject=f"{mutual.code if mutual else campaign.mutual_id}/{campaign.code}",
        detail=f"campaign paused: {reason}; its queued messages wait for `reminders resume`",
        now=now,
        mutual_id=campaign.mutual_id,
        key=f"campaign-paused:{campaign.id}:{now.isoformat()}",
    )
    return True


def find_campaign(session: Session, mutual_code: str, campaign_code: str) -> Campaign:
    """LookupError naming what is missing."""
    mutual = session.scalars(select(Mutual).where(Mutual.code == mutual_code)).first()
    if mutual is None:
        raise LookupError(f"no mutual {mutual_code!r}")
    campaign = session.scalars(
        select(Campaign).where(Campaign.mutual_id == mutual.id, Campaign.code == campaign_code)
    ).first()
    if campaign is None:
        raise LookupError(f"mutual {mutual_code!r} has no campaign {campaign_code!r}")
    return campaign


def resume_campaign(session: Session, campaign: Campaign, now: dt.datetime) -> int:
    """Clear the pause and resolve its alerts; returns the messages now free to go."""
    campaign.paused_at = None
    campaign.paused_reason = None
    session.execute(
        update(Alert)
        .where(Alert.kind == "campaign_paused", Alert.resolved_at.is_(None))
        .where(Alert.dedupe_key.startswith(f"campaign-paused:{campaign.id}:", autoescape=True))
        .values(resolved_at=now)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    waiting = session.scalars(
        select(OutboxMessage.id)
        .join(ReminderOccurrence, ReminderOccurrence.outbox_id == OutboxMessage.id)
        .where(
            ReminderOccurrence.campaign_id == campaign.id,
            OutboxMessage.status == OutboxStatus.QUEUED,
        )
    ).all()
    return len(waiting)
