"""Payment jobs (payments.md): initiate, confirm a callback, poll, sweep, and the sandbox's
own decision. Each takes string ids and is safe to run twice.

Provider calls happen outside any transaction: the intent is claimed and committed first
(start_initiation), the provider is called, then its answer is recorded in a new unit of
work. A worker killed between the call and the record leaves a CREATED intent with one
attempt: the next run moves it to UNKNOWN and status polling resolves it; the request is
never sent twice. The sweeper re-enqueues whatever a lost enqueue (Redis flushed) left."""

from __future__ import annotations

import datetime as dt
import logging

import redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy.orm import Session

from gateway import queueing
from gateway.models import PaymentEvent, PaymentIntent
from gateway.providers.payments.sandbox import SandboxError, SandboxProvider
from gateway.services import payments
from gateway.services.payments import (
    InitiateResult,
    Initiation,
    PaymentProvider,
    PaymentRequest,
    ProviderError,
    StatusResult,
    payment_request,
    polled,
)
from worker import registry, schedule
from worker.jobs import JobContext, context

log = logging.getLogger(__name__)
SANDBOX_DELAY_S = 3  # the sandbox "member" types the PIN after a few seconds
SANDBOX_FORGOTTEN_S = 60  # a sandbox request still undecided after this is decided by the sweeper
WAITING = (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED)
SWEEPS_KEY = "gateway:confirm-sweeps"  # + event id: the sweeper's re-enqueues of its confirm
SWEEPS_TTL_S = 2 * 86_400  # longer than GIVE_UP_AFTER: the count outlives the tries


class TransientPaymentError(RuntimeError):
    """The provider could not answer now; raising lets RQ retry with the job's backoff."""


def provider_for(name: str, ctx: JobContext | None = None) -> PaymentProvider:
    """The adapter `name`, built once per job context (tests may put fakes in its
    `payment_providers`)."""
    return (ctx or context()).payment_provider(name)


# --- initiate -------------------------------------------------------------------------------


def initiate_payment(intent_id: str) -> str:
    """Send the provider request of a CREATED intent, once; returns the intent's state."""
    ctx = context()
    with ctx.session() as session:
        intent = payments.start_initiation(session, int(intent_id), ctx.clock.now())
        if intent is None:
            found = session.get(PaymentIntent, int(intent_id))
            state = found.state if found else "MISSING"
            log.info("payment intent %s not initiated: %s", intent_id, state)
            return str(state)  # a plain string in the job's result, not the enum member
        provider_name = intent.provider
        request = payment_request(session, intent, ctx.settings.public_url, ctx.settings.ussd_token)
    provider = provider_for(provider_name, ctx)
    try:
        result = provider.initiate(request)
    except Exception as exc:  # the request may have left: unknown, resolved by status
        log.exception("payment intent %s: initiate at %s failed", intent_id, provider_name)
        result = InitiateResult(Initiation.UNKNOWN, reason=f"{type(exc).__name__}: {exc}"[:200])
    with ctx.session() as session:
        state = payments.record_initiation(session, int(intent_id), result, ctx.clock.now()).state
    log.info("payment intent %s: %s -> %s", intent_id, result.outcome.value, state)
    if provider_name == "sandbox" and result.outcome is Initiation.ACCEPTED:
        _sandbox_auto(ctx, request.reference)
    return str(state)


def _sandbox_auto(ctx: JobContext, reference: str) -> None:
    """GATEWAY_SANDBOX_AUTO: the sandbox decides a few seconds later (never for `off`)."""
    if ctx.settings.sandbox_auto == "off":
        return
    job_id = f"sandbox-decide-{reference}"
    if SANDBOX_DELAY_S <= 0:
        enqueue_once(ctx.redis, "sandbox-decide", reference, job_id=job_id)
        return
    spec = registry.spec("sandbox-decide")
    Queue(spec.queue, connection=ctx.redis).enqueue_in(
        dt.timedelta(seconds=SANDBOX_DELAY_S),
        spec.path,
        reference,
        job_id=job_id,
        retry=spec.retry(),
        job_timeout=spec.timeout_s,
        description=f"sandbox-decide({reference})",
    )


# --- confirm and poll -----------------------------------------------------------------------


def confirm_payment(event_id: str) -> str:
    """Apply a recorded callback: a signed one as it is, any other after asking the provider."""
    ctx = context()
    with ctx.session() as session:
        event = session.get(PaymentEvent, int(event_id))
        if event is None:
            return "MISSING"
        if event.outcome not in (None, "unconfirmed"):
            return "duplicate"
        if event.verified:
            return payments.apply_event(session, event.id, None, ctx.clock.now())
        provider_name, request = event.provider, _event_request(session, event, ctx)
    try:
        status = provider_for(provider_name, ctx).status(request)
    except ProviderError as exc:
        raise TransientPaymentError(f"event {event_id}: no status answer: {exc}") from exc
    with ctx.session() as session:
        outcome = payments.apply_event(session, int(event_id), status, ctx.clock.now())
    log.info("payment event %s confirmed: %s -> %s", event_id, status.state.value, outcome)
    return outcome


def _event_request(db: Session, event: PaymentEvent, ctx: JobContext) -> PaymentRequest:
    """The status query for an event: its intent's request, or (no intent) its claims."""
    intent = db.get(PaymentIntent, event.intent_id) if event.intent_id else None
    if intent is not None:
        return payment_request(db, intent, ctx.settings.public_url, ctx.settings.ussd_token)
    return PaymentRequest(
        reference=event.reference or "",
        amount=event.amount or 0,
        currency=event.currency or "XOF",
        msisdn=event.msisdn or "",
        description="",
        notify_url="",
    )


def poll_payment(intent_id: str) -> str:
    """One status query for a non-terminal intent, or an expired one's late check; no
    answer backs off (poll_failed)."""
    ctx = context()
    with ctx.session() as session:
        intent = session.get(PaymentIntent, int(intent_id))
        if intent is None or not polled(intent):
            return str(intent.state) if intent else "MISSING"
        provider_name = intent.provider
        request = payment_request(session, intent, ctx.settings.public_url, ctx.settings.ussd_token)
    status: StatusResult | None = None
    try:
        status = provider_for(provider_name, ctx).status(request)
    except (ProviderError, OSError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    with ctx.session() as session:
        if status is None:
            payments.poll_failed(session, int(intent_id), error, ctx.clock.now())
            return "error"
        outcome = payments.apply_status(session, int(intent_id), status, ctx.clock.now())
    log.info("payment intent %s polled: %s -> %s", intent_id, status.state.value, outcome)
    return outcome


# --- the sweeper ----------------------------------------------------------------------------


def sweep_payments() -> int:
    """Every worker.schedule.SWEEP_EVERY_S: due status polls, CREATED intents whose
    initiate job was lost, and (sandbox) requests nobody decided. Job ids make a second
    enqueue harmless."""
    ctx = context()
    connection = ctx.redis
    now = ctx.clock.now()
    with ctx.session() as session:
        polls = payments.due_polls(session, now)
        stale = payments.stale_created(session, now)
        unapplied = payments.unapplied_events(session, now)
        expired = payments.expired_events(session, now)
    count = sum(
        enqueue_once(connection, "poll-payment", str(i), job_id=f"poll-payment-{i}") for i in polls
    )
    count += sum(
        enqueue_once(connection, "initiate-payment", str(i), job_id=f"initiate-payment-{i}")
        for i in stale
    )
    count += sum(_confirm_again(ctx, i) for i in unapplied)
    _give_up(ctx, expired, "unapplied for 24 h")
    if ctx.settings.sandbox_auto != "off":
        sandbox = _sandbox(ctx)
        for reference in sandbox.undecided(older_than_s=SANDBOX_FORGOTTEN_S):
            count += enqueue_once(
                connection, "sandbox-decide", reference, job_id=f"sandbox-decide-{reference}"
            )
    log.info(
        "payment sweep: %d poll(s), %d stale, %d job(s) enqueued", len(polls), len(stale), count
    )
    return count


def _confirm_again(ctx: JobContext, event_id: int) -> bool:
    """Re-enqueue an unapplied callback's confirm job, at most MAX_CONFIRM_SWEEPS times
    (counted in Redis, issue 15); past that it is given up with an alert."""
    job_id = f"confirm-payment-{event_id}"
    if _live(ctx.redis, job_id):
        return False  # queued or running: counting it would spend an attempt for nothing
    key = f"{SWEEPS_KEY}:{event_id}"
    tries = int(ctx.redis.incr(key))
    ctx.redis.expire(key, SWEEPS_TTL_S)
    if tries > payments.MAX_CONFIRM_SWEEPS:
        _give_up(ctx, [event_id], f"{payments.MAX_CONFIRM_SWEEPS} confirmations without answer")
        return False
    return enqueue_once(ctx.redis, "confirm-payment", str(event_id), job_id=job_id)


def _give_up(ctx: JobContext, event_ids: list[int], reason: str) -> None:
    for event_id in event_ids:
        with ctx.session() as session:
            if payments.give_up_event(session, event_id, reason, ctx.clock.now()):
                log.error("ALERT payment event %s given up: %s", event_id, reason)


def _live(connection: redis.Redis[bytes], job_id: str) -> bool:
    try:
        job = Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        return False
    if queueing.orphaned(connection, job):
        queueing.rescue_orphan(connection, job)
        return True  # queued again: no attempt spent
    return job.get_status(refresh=False) in (*WAITING, JobStatus.STARTED)


def enqueue_once(connection: redis.Redis[bytes], name: str, *args: str, job_id: str) -> bool:
    """Enqueue unless a job with this id is already waiting to run. A scheduled job long
    past its time is not waiting but stuck (no live RQ scheduler, issue 15): it is moved to
    its queue now, and so is a queued job that is in no queue (taken by a worker when Redis
    died)."""
    try:
        job = Job.fetch(job_id, connection=connection)
        status = job.get_status(refresh=False)
        if status == JobStatus.SCHEDULED and schedule.overdue(connection, job):
            queue = Queue(job.origin, connection=connection)
            return schedule.rescue_job(connection, queue, job_id)
        if queueing.orphaned(connection, job):
            return queueing.rescue_orphan(connection, job)
        if status in WAITING:
            return False
    except NoSuchJobError:
        pass
    registry.enqueue(connection, name, *args, job_id=job_id)
    return True


# --- the sandbox's side ---------------------------------------------------------------------


def _sandbox(ctx: JobContext) -> SandboxProvider:
    provider = provider_for("sandbox", ctx)
    if not isinstance(provider, SandboxProvider):
        raise TypeError("the sandbox provider is not a SandboxProvider")
    return provider


def sandbox_decide(reference: str, decision: str = "") -> str:
    """The sandbox "member" approves or rejects (GATEWAY_SANDBOX_AUTO, or `decision`) and
    the sandbox calls back by HTTP; no answer raises so that RQ tries again."""
    ctx = context()
    choice = decision or ctx.settings.sandbox_auto
    if choice not in ("approve", "reject"):
        return "off"
    sandbox = _sandbox(ctx)
    try:
        callback = sandbox.decide(reference, choice == "approve")
    except SandboxError as exc:
        log.warning("sandbox decision on %s refused: %s", reference, exc)
        return "refused"
    try:
        status = sandbox.send(callback, reference)
    except (OSError, SandboxError) as exc:
        raise TransientPaymentError(f"sandbox callback for {reference} failed: {exc}") from exc
    if status >= 500:
        raise TransientPaymentError(f"sandbox callback for {reference}: HTTP {status}")
    if status >= 400:
        log.error("sandbox callback for %s refused: HTTP %s", reference, status)
    return f"{choice}: HTTP {status}"
