"""Sending outbox messages in batches (messaging.md, "Throughput"), never from a web request.

`deliver` is the one path from the outbox to the provider: it takes tokens from the Redis
bucket of the provider first (so a claimed message never waits on the throttle), claims the
messages QUEUED -> SENDING and commits, sends each group of identical texts in one request,
then applies every recipient's answer to its own message. A second run, a second worker or a
crash mid-call never sends a message twice: only QUEUED messages are claimed."""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass

import redis
from rq import get_current_job
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry
from sqlalchemy.orm import Session

from gateway.models import OutboxMessage, OutboxStatus
from gateway.services import messaging
from gateway.services.messaging import Answer, SendResult, SmsProvider
from worker import registry
from worker.jobs import JobContext, context
from worker.throttle import TokenBucket

log = logging.getLogger(__name__)
TRANSIENT = ("transient", OutboxStatus.QUEUED)
LIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


@dataclass(frozen=True)
class Request:
    """One provider request: a text, its sender id and (message id, phone) recipients."""

    text: str
    sender: str | None
    recipients: list[tuple[int, str]]


def deliver(ctx: JobContext, ids: list[int]) -> dict[int, tuple[str, OutboxStatus]]:
    """Send the given messages still QUEUED; message id -> (outcome, new status). The claim
    is one commit; each provider request's answers are then applied in their own short
    transaction as soon as they arrive (issue 15), so a worker killed mid-batch (or the job
    timeout) leaves the messages already sent SENT with their provider ids, and only the
    rest SENDING without one: `sms_dispatch` puts those back in the queue
    (`requeue_stale_sending`) once no running job holds them (`held_messages`)."""
    provider = ctx.sms_provider()
    bucket = TokenBucket(ctx.redis, provider.name, ctx.settings.sms_rate_per_second)
    bucket.take(len(ids))
    with ctx.session() as session:
        claimed = messaging.claim_batch(session, ids, ctx.clock.now())
        requests = _requests(session, claimed, ctx)
    done: dict[int, tuple[str, OutboxStatus]] = {}
    for request in requests:
        answers = _send(provider, request)
        with ctx.session() as session:
            statuses = messaging.apply_answers(session, provider.name, answers, ctx.clock.now())
        done.update((a.message_id, (a.outcome, statuses[a.message_id])) for a in answers)
    return done


def _requests(session: Session, claimed: list[OutboxMessage], ctx: JobContext) -> list[Request]:
    """Group by (mutual, text), each phone once per request, at most sms_batch_size."""
    groups: dict[tuple[int, str], list[OutboxMessage]] = defaultdict(list)
    for message in claimed:
        groups[(message.mutual_id, message.text)].append(message)
    size = ctx.settings.sms_batch_size
    requests: list[Request] = []
    senders: dict[int, str | None] = {}
    for (mutual_id, text), messages in groups.items():
        if mutual_id not in senders:
            default = ctx.settings.at_sender_id
            senders[mutual_id] = messaging.sender_id(session, messages[0], default)
        sender = senders[mutual_id]
        batches: list[list[tuple[int, str]]] = []
        for message in messages:
            batch = next(
                (b for b in batches if len(b) < size and all(p != message.phone for _, p in b)),
                None,
            )
            if batch is None:
                batch = []
                batches.append(batch)
            batch.append((message.id, message.phone))
        requests.extend(Request(text, sender, batch) for batch in batches)
    return requests


def _send(provider: SmsProvider, request: Request) -> list[Answer]:
    phones = [phone for _, phone in request.recipients]
    try:
        results = {r.phone: r for r in provider.send(phones, request.text, request.sender)}
    except Exception as exc:  # the request may have left: never resend blindly
        log.exception("sms batch of %d: provider %s failed", len(phones), provider.name)
        detail = f"{type(exc).__name__}: {exc}"
        results = {p: SendResult(p, None, None, "unknown", detail) for p in phones}
    answers = []
    for message_id, phone in request.recipients:
        result = results.get(phone) or SendResult(phone, None, None, "unknown", "no answer")
        answers.append(Answer(message_id, result.outcome, result.message_id, result.detail))
        if result.outcome == "insufficient_balance":
            log.error("ALERT sms provider %s: insufficient balance", provider.name)
    return answers


def send_sms_batch(ids_csv: str) -> int:
    """Job `send-sms-batch`: send a batch of outbox ids ("1,2,3"); returns how many the
    provider accepted. Transient errors put their messages back in the queue and raise, so
    RQ retries the batch with backoff (only the requeued messages are claimed again)."""
    try:
        ids = [int(part) for part in ids_csv.split(",") if part]
    except ValueError:
        raise ValueError(f"send-sms-batch takes comma-separated ids, not {ids_csv!r}") from None
    done = deliver(context(), ids)
    accepted = sum(1 for outcome, _ in done.values() if outcome == "accepted")
    retry = [i for i, (outcome, status) in done.items() if (outcome, status) == TRANSIENT]
    log.info("sms batch of %d: %d accepted, %d to retry", len(ids), accepted, len(retry))
    if retry:
        raise TransientSmsError(f"sms batch: {len(retry)} transient error(s)")
    return accepted


def batch_job_id(ids: list[int]) -> str:
    return f"sms-batch-{ids[0]}-{ids[-1]}-{len(ids)}"


def enqueue_batches(connection: redis.Redis[bytes], limit: int | None = None) -> list[str]:
    """A `send-sms-batch` job for every batch of pending messages, unless the same batch's
    job is still waiting or running. Returns the job ids enqueued."""
    ctx = context()
    with ctx.session() as session:
        batches = messaging.pending_batches(session, ctx.settings.sms_batch_size, limit)
    enqueued = []
    for ids in batches:
        job_id = batch_job_id(ids)
        try:
            if Job.fetch(job_id, connection=connection).get_status() in LIVE:
                continue
        except NoSuchJobError:
            pass
        args = ",".join(str(i) for i in ids)
        enqueued.append(registry.enqueue(connection, "send-sms-batch", args, job_id=job_id).id)
    return enqueued


def held_messages(connection: redis.Redis[bytes]) -> frozenset[int]:
    """The outbox ids held by running send jobs: the arguments of the sms queue's started
    `send-sms` and `send-sms-batch` jobs whose heartbeat is alive (a SIGKILLed worker's ends
    seconds after its last beat: worker.schedule.HEARTBEAT_GRACE_S). Issue 15: the messages
    a dead worker claimed are requeued within seconds rather than after STALE_SENDING."""
    senders = {registry.spec(name).path for name in ("send-sms", "send-sms-batch")}
    started = StartedJobRegistry(registry.SMS, connection=connection)
    held: set[int] = set()
    for entry in connection.zrangebyscore(started.key, time.time(), "+inf"):
        try:
            job = Job.fetch(started.parse_job_id(entry.decode()), connection=connection)
        except NoSuchJobError:
            continue
        if job.func_name in senders and job.args:
            held.update(int(i) for i in str(job.args[0]).split(",") if i.strip().isdigit())
    return frozenset(held)


class TransientSmsError(RuntimeError):
    """The provider refused a send for now; raising lets RQ retry with the job's backoff."""


def send_sms(message_id: str) -> str:
    """Send one outbox message and return its status (deliver below: claimed
    QUEUED -> SENDING and committed before the provider is called, throttled, a message of a
    paused campaign left waiting). Only a QUEUED message is sent, so a second run, a second
    worker or a crash mid-call never sends it twice; an unknown outcome stays SENDING for
    the delivery reports to settle."""
    ctx = context()
    done = deliver(ctx, [int(message_id)])
    if int(message_id) not in done:
        with ctx.session() as session:
            found = session.get(OutboxMessage, int(message_id))
            status = found.status if found else "MISSING"
        log.info("sms %s not sent: %s", message_id, status)
        return str(status)  # a plain string in the job's result, whatever the type
    outcome, status = done[int(message_id)]
    log.info("sms %s: %s -> %s", message_id, outcome, status)
    if (outcome, status) == TRANSIENT:
        raise TransientSmsError(f"sms {message_id}: transient error")
    return str(status)


def enqueue_pending_sms(connection: redis.Redis[bytes], limit: int | None = None) -> list[str]:
    """Enqueue a send job for every QUEUED message (after their commit); sending is claimed
    per message, so enqueueing one twice is harmless. Returns the RQ job ids."""
    with context().session() as session:
        ids = messaging.pending_ids(session, limit)
    return [registry.enqueue(connection, "send-sms", str(i)).id for i in ids]


def sms_dispatch() -> int:
    """Periodic safety net (architecture.md: the row is the record, a sweeper re-enqueues):
    every QUEUED message not held by a paused campaign gets a batch send job, even if the
    enqueue after its commit was lost; identical texts share one provider request."""
    job = get_current_job()
    if job is None:
        raise RuntimeError("sms_dispatch runs inside an RQ job")
    ctx = context()
    with ctx.session() as session:
        stale = messaging.requeue_stale_sending(
            session, ctx.clock.now(), owned=held_messages(job.connection)
        )
    if stale.requeued or stale.failed or stale.waiting:
        log.warning(
            "stale SENDING: %d requeued, %d failed, %d awaiting a report",
            len(stale.requeued),
            len(stale.failed),
            len(stale.waiting),
        )
    return len(enqueue_batches(job.connection))
