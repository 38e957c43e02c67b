"""Queueing SMS (messaging.md): render a catalog template, check it fits one segment, and put
it in the outbox. Sending is the worker's job (worker.jobs.messaging.send_sms), enqueued after
commit from `pending_ids`; this module only moves a message's status, and only forward."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.lib import gsm7
from gateway.lib.catalogs import DEFAULT_LANGUAGE, LANGUAGES, sms_templates
from gateway.lib.phones import InvalidPhone, normalize_msisdn
from gateway.models import Mutual, OutboxMessage, OutboxStatus
from gateway.models.outbox import ERROR_LEN, REASONS
from gateway.services.alerts import raise_alert

# Room kept at the end of every SMS for the provider's opt-out notice on a first message.
OPTOUT_RESERVE = 20
# Sends tried for one message (first try and retries) before a transient error becomes FAILED;
# worker.registry's send-sms retry policy gives the same number.
MAX_ATTEMPTS = 4
# A SENDING message not touched for this long has no live sender (issue 15): longer than the
# send jobs' timeout (gateway.queueing: 600 s), after which RQ has killed any job still on it.
STALE_SENDING = dt.timedelta(minutes=11)
# A SENDING message that no running send job holds (requeue_stale_sending's `owned`) is
# requeued once this old: a job claims its messages while it runs, so past a few seconds
# nothing but a dead worker leaves one unheld (issue 15).
UNOWNED_AFTER = dt.timedelta(seconds=20)
TEMPLATE_KEYS = (
    "campaign_opening",
    "campaign_announce",
    "campaign_reminder",
    "campaign_closing",
    "coverage_ending",
    "coverage_ended",
    "coverage_grace",
    "payment_receipt",
    "payment_partial",
    "payment_failed",
    "cash_receipt",
    "coverage_starts",
    "coverage_started",
    "optout_ack",
    "optin_ack",
    "help",
    "status",
    "enrol_approved",
    "enrol_approved_agent",
    "enrol_cards",
    "enrol_rejected",
)
# Forward-only lifecycle. SENDING -> QUEUED is the one step back, taken only when the provider
# refused the request before accepting anything (transient error): the retry sends it again.
S = OutboxStatus
TRANSITIONS: dict[OutboxStatus, frozenset[OutboxStatus]] = {
    S.QUEUED: frozenset({S.SENDING, S.SKIPPED, S.FAILED, S.EXPIRED}),
    S.SENDING: frozenset({S.QUEUED, S.SENT, S.DELIVERED, S.FAILED, S.REJECTED, S.EXPIRED}),
    S.SENT: frozenset({S.DELIVERED, S.FAILED, S.REJECTED, S.EXPIRED}),
    S.DELIVERED: frozenset(),
    S.FAILED: frozenset(),
    S.REJECTED: frozenset(),
    S.EXPIRED: frozenset(),
    S.SKIPPED: frozenset(),
}
UNDELIVERED = frozenset({S.FAILED, S.REJECTED, S.EXPIRED})  # final, and never reached a phone
# Provider outcomes (messaging.port.Outcome) -> the status a send leaves behind.
OUTCOMES = ("accepted", "permanent", "transient", "insufficient_balance", "unknown")


class InvalidTransition(ValueError):
    """A status change the lifecycle does not allow (e.g. DELIVERED -> SENT)."""


def can_move(current: OutboxStatus, new: OutboxStatus) -> bool:
    return new in TRANSITIONS[current]


def advance(message: OutboxMessage, status: OutboxStatus, now: dt.datetime) -> bool:
    """Move a message to `status`; False if it is already there, InvalidTransition if the
    lifecycle forbids it (late or duplicate reports never move a message back)."""
    if status not in TRANSITIONS:
        raise ValueError(f"unknown outbox status {status!r}")
    if message.status == status:
        return False
    if not can_move(message.status, status):
        raise InvalidTransition(f"outbox message {message.id}: {message.status} -> {status}")
    message.status = OutboxStatus(status)
    message.updated_at = now
    return True


def render_sms(template: str, language: str, params: Mapping[str, object]) -> str:
    """The template filled and transliterated to GSM-7 (non GSM-7 leftovers become `?`)."""
    try:
        raw = sms_templates(language)[template]
    except KeyError:
        raise ValueError(f"no SMS template {template!r} in language {language!r}") from None
    try:
        filled = raw.format(**params)
    except (KeyError, IndexError) as exc:
        raise ValueError(f"SMS template {template!r} needs parameter {exc}") from None
    return gsm7.clean(filled)


def room_left(text: str, reserve: int = OPTOUT_RESERVE) -> int:
    """Characters still free in one GSM-7 segment once the opt-out reserve is kept."""
    size = gsm7.septets(text)
    if size is None:
        return -1
    return gsm7.SINGLE_GSM7 - reserve - size


def queue_sms(
    session: Session,
    *,
    mutual_id: int,
    phone: str,
    template: str,
    language: str,
    params: Mapping[str, object],
    reason: str,
    household_id: int | None = None,
    dedupe_key: str | None = None,
) -> OutboxMessage:
    """Put one SMS in the outbox (QUEUED). With a `dedupe_key` already used, the existing
    message is returned and nothing is added: a caller's message is at-most-once.

    ValueError says why a message is refused: unknown reason or template, a phone not in
    E.164, a missing parameter, or a text longer than one segment with the reserve."""
    sms = Sms(mutual_id, phone, template, language, params, reason, household_id)
    return _queue(session, sms, dedupe_key)[0]


def queue_new_sms(session: Session, *, dedupe_key: str, **fields: Any) -> OutboxMessage | None:
    """`queue_sms` for a message sent at most once, saying whether this call queued it: None
    when `dedupe_key` was used already, by an earlier run or by a concurrent one whose insert
    won the unique index (D17-style at-most-once for jobs that count what they sent)."""
    message, created = _queue(session, Sms(**fields), dedupe_key)
    return message if created else None


@dataclass(frozen=True)
class Sms:
    """What `queue_sms` is asked to queue (its keyword arguments but the dedupe key)."""

    mutual_id: int
    phone: str
    template: str
    language: str
    params: Mapping[str, object]
    reason: str
    household_id: int | None = None


def _queue(session: Session, sms: Sms, dedupe_key: str | None) -> tuple[OutboxMessage, bool]:
    """The message for `dedupe_key` (or a new one) and whether it was added here."""
    if sms.reason not in REASONS:
        raise ValueError(f"reason must be one of {', '.join(REASONS)}, not {sms.reason!r}")
    e164 = _e164(sms.phone)
    if dedupe_key is not None and (found := _by_dedupe_key(session, dedupe_key)):
        return found, False
    lang = sms.language if sms.language in LANGUAGES else DEFAULT_LANGUAGE
    text = render_sms(sms.template, lang, sms.params)
    left = room_left(text)
    if left < 0:
        raise ValueError(
            f"SMS {sms.template!r} ({lang}) is {-left} character(s) over one segment "
            f"with the {OPTOUT_RESERVE}-character opt-out reserve: {text!r}"
        )
    message = OutboxMessage(
        mutual_id=sms.mutual_id,
        household_id=sms.household_id,
        phone=e164,
        template=sms.template,
        language=lang,
        text=text,
        reason=sms.reason,
        status=OutboxStatus.QUEUED,
        dedupe_key=dedupe_key,
    )
    return add_once(session, message)


def add_once(session: Session, message: OutboxMessage) -> tuple[OutboxMessage, bool]:
    """Add `message` unless its dedupe key is taken; the message kept and whether it was
    added here (False also when a concurrent insert won the unique index)."""
    key = message.dedupe_key
    if key is not None and (found := _by_dedupe_key(session, key)):
        return found, False
    try:
        with session.begin_nested():
            session.add(message)
    except IntegrityError:
        found = _by_dedupe_key(session, key) if key is not None else None
        if found is None:
            raise
        return found, False
    return message, True


def _e164(phone: str) -> str:
    try:
        e164 = normalize_msisdn(phone, "ZZ")
    except InvalidPhone as exc:
        raise ValueError(f"phone must be E.164: {exc}") from None
    if e164 != phone:
        raise ValueError(f"phone must be E.164 (+ and digits), not {phone!r}")
    return e164


def _by_dedupe_key(session: Session, key: str) -> OutboxMessage | None:
    return session.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key == key)).first()


def pending_ids(session: Session, limit: int | None = None) -> list[int]:
    """QUEUED messages, oldest first: what the worker side enqueues send jobs for."""
    query = select(OutboxMessage.id).where(OutboxMessage.status == OutboxStatus.QUEUED)
    return list(session.scalars(query.order_by(OutboxMessage.id).limit(limit)))


def claim(session: Session, message_id: int, now: dt.datetime) -> OutboxMessage | None:
    """QUEUED -> SENDING in one conditional UPDATE, so two workers never both send it; the
    caller commits before calling the provider. None when the message is not QUEUED."""
    done = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == OutboxStatus.QUEUED)
        .values(status=OutboxStatus.SENDING, attempts=OutboxMessage.attempts + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(done, "rowcount", 0) != 1:
        return None
    message = session.get(OutboxMessage, message_id, populate_existing=True)
    return message


def sender_id(session: Session, message: OutboxMessage, default: str | None) -> str | None:
    """The mutual's alphanumeric sender id, else the gateway's, else the provider's default."""
    mutual = session.get(Mutual, message.mutual_id)
    return (mutual.sms_sender_id if mutual else None) or default or None


def record_send(
    session: Session,
    message_id: int,
    *,
    provider: str,
    outcome: str,
    now: dt.datetime,
    provider_message_id: str | None = None,
    detail: str | None = None,
) -> OutboxStatus:
    """Apply a provider's answer to a SENDING message and return its new status.

    accepted -> SENT; permanent -> REJECTED; insufficient balance -> FAILED; transient ->
    QUEUED for a retry (FAILED after MAX_ATTEMPTS); unknown stays SENDING: delivery reports
    settle it, sending again could make a duplicate."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown send outcome {outcome!r}")
    message = session.get(OutboxMessage, message_id)
    if message is None:
        raise LookupError(f"no outbox message {message_id}")
    message.provider = provider
    message.updated_at = now
    if outcome == "accepted":
        message.provider_message_id = provider_message_id
        message.sent_at = now
        message.last_error = None
        advance(message, S.SENT, now)
        return message.status
    message.last_error = f"{outcome}: {detail or '-'}"[:ERROR_LEN]
    if outcome == "unknown":
        message.provider_message_id = provider_message_id or message.provider_message_id
    elif outcome == "permanent":
        advance(message, S.REJECTED, now)
    elif outcome == "insufficient_balance":
        advance(message, S.FAILED, now)
    else:
        advance(message, S.FAILED if message.attempts >= MAX_ATTEMPTS else S.QUEUED, now)
    return message.status


@dataclass(frozen=True)
class StaleSweep:
    """What `requeue_stale_sending` did: messages put back in the queue, failed (out of
    attempts), and left SENDING for their delivery report (the provider has them)."""

    requeued: list[int]
    failed: list[int]
    waiting: list[int]


def requeue_stale_sending(
    session: Session,
    now: dt.datetime,
    limit: int = 1000,
    owned: Collection[int] | None = None,
) -> StaleSweep:
    """SENDING messages older than STALE_SENDING (their sender died mid-batch, issue 15),
    and, when the caller knows which messages a running send job holds (`owned`: the
    messages of jobs whose worker's heartbeat is alive), those held by none once
    UNOWNED_AFTER old: their sender is known dead, so they need not wait STALE_SENDING.

    Without a provider id and never answered, nothing says the provider has them: back to
    QUEUED, their interrupted attempt counted (claim counted it), so they are sent again
    within MAX_ATTEMPTS; out of attempts they fail. With a provider id, or answered
    `unknown` (the request may have left), sending again could duplicate them: they wait for
    their delivery report. Failures and waits raise one operator alert a day."""
    bound = STALE_SENDING if owned is None else UNOWNED_AFTER
    rows = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.status == S.SENDING, OutboxMessage.updated_at <= now - bound)
        .order_by(OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    sweep = StaleSweep([], [], [])
    held = frozenset(owned or ())
    for message in rows:
        sent = message.provider_message_id or (message.last_error or "").startswith("unknown:")
        if message.updated_at > now - STALE_SENDING and (sent or message.id in held):
            continue  # its sender runs, or its report may come: not stale yet
        if sent:
            sweep.waiting.append(message.id)
            continue
        message.last_error = "interrupted: no answer applied (worker stopped mid-batch)"
        if message.attempts >= MAX_ATTEMPTS:
            advance(message, S.FAILED, now)
            sweep.failed.append(message.id)
        else:
            advance(message, S.QUEUED, now)
            sweep.requeued.append(message.id)
    if sweep.failed or sweep.waiting:
        _alert_stale(session, sweep, now)
    return sweep


def _alert_stale(session: Session, sweep: StaleSweep, now: dt.datetime) -> None:
    shown = ", ".join(str(i) for i in (sweep.failed + sweep.waiting)[:20])
    raise_alert(
        session,
        kind="sms_stale_sending",
        subject="outbox",
        detail=(
            f"SMS stuck in SENDING past {STALE_SENDING}: {len(sweep.failed)} failed (out of "
            f"attempts), {len(sweep.waiting)} awaiting a delivery report; ids {shown}"
        )[:500],
        now=now,
        key=f"sms-stale-sending:{now.date().isoformat()}",
    )


# Africa's Talking delivery report statuses (messaging.md) -> the outbox status they mean.
# Sent/Submitted/Buffered are on the way: the message stays (or becomes) SENT.
DELIVERY_STATUSES: dict[str, OutboxStatus] = {
    "Sent": S.SENT,
    "Submitted": S.SENT,
    "Buffered": S.SENT,
    "Success": S.DELIVERED,
    "Rejected": S.REJECTED,
    "Failed": S.FAILED,
    "AbsentSubscriber": S.FAILED,
    "Expired": S.EXPIRED,
}


def apply_delivery_report(
    session: Session,
    provider_message_id: str,
    report_status: str,
    *,
    now: dt.datetime,
    failure_reason: str | None = None,
) -> OutboxMessage | None:
    """Move the message the provider calls `provider_message_id` toward the report's status,
    forward only: a duplicate or late report (Buffered after Success) changes nothing. None
    when no message has that id. ValueError for a status the provider does not document."""
    try:
        target = DELIVERY_STATUSES[report_status]
    except KeyError:
        raise ValueError(f"unknown delivery status {report_status!r}") from None
    message = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.provider_message_id == provider_message_id)
        .order_by(OutboxMessage.id)
        .limit(1)
        .with_for_update()
    ).first()
    if message is None:
        return None
    if message.status == target or not can_move(message.status, target):
        return message
    advance(message, target, now)
    if target in UNDELIVERED:
        message.last_error = f"{report_status}: {failure_reason or '-'}"[:ERROR_LEN]
    return message


def recent_messages(
    session: Session, phone: str | None = None, limit: int = 50
) -> list[OutboxMessage]:
    """The latest messages, newest first, optionally for one phone (E.164)."""
    query = select(OutboxMessage)
    if phone:
        query = query.where(OutboxMessage.phone == phone)
    return list(session.scalars(query.order_by(OutboxMessage.id.desc()).limit(limit)))


def outbox_row(message: OutboxMessage) -> dict[str, object]:
    """interfaces.md: `gateway outbox --json` prints a list of these."""
    return {
        "id": message.id,
        "phone": message.phone,
        "reason": message.reason,
        "template": message.template,
        "status": message.status,
        "text": message.text,
        "created_at": message.created_at.isoformat(),
    }
