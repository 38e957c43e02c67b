"""The one list of queues and jobs, and enqueueing after commit.

Jobs are named by string so that nothing has to import the job code to enqueue it, and every
job carries an explicit retry policy instead of RQ's default of none. Web requests, USSD hops
and jobs `defer()` a job on their database session; it is enqueued only once that session
commits (architecture.md), so a worker never sees a row that is not there yet. Losing Redis
then loses an enqueue, never the row: each job's sweeper re-enqueues from the database."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

import redis
from rq import Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.intermediate_queue import IntermediateQueue
from rq.job import Job, JobStatus
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)
DEFERRED = "gateway.deferred_jobs"

DEFAULT = "default"
# Applying what members already paid (callbacks, status polls, the payment sweeper) has its
# own queue, apart from new initiations (issue 15): a provider slow to take requests, or a
# burst of USSD payments, never delays confirming the money already collected.
CONFIRMATIONS = "confirmations"
PAYMENTS = "payments"
SMS = "sms"
RECONCILIATION = "reconciliation"
QUEUES: tuple[str, ...] = (DEFAULT, CONFIRMATIONS, PAYMENTS, SMS, RECONCILIATION)
# Job states in which a job with the same id is still to run, or running: not enqueued again.
LIVE = frozenset({"queued", "started", "scheduled", "deferred"})
# A job marked queued but in no queue for this long was lost between a worker's dequeue and
# its start (see orphaned); a live worker starts what it dequeues within milliseconds.
ORPHAN_AFTER_S = 10


@dataclass(frozen=True)
class JobSpec:
    """A job's dotted path, queue, retry policy (attempts after the first, delays) and timeout."""

    path: str
    queue: str
    retries: int
    intervals: tuple[int, ...]
    timeout_s: int = 600

    def retry(self) -> Retry:
        return Retry(max=self.retries, interval=list(self.intervals))


JOBS: dict[str, JobSpec] = {
    "daily-allocation": JobSpec(
        "worker.jobs.coverage.daily_allocation", DEFAULT, retries=3, intervals=(60, 300, 1800)
    ),
    # The full audit reads every entry, about 8 s per million (issue 19): hours, not minutes,
    # at national scale; it runs nightly, the recent audit every few minutes.
    "ledger-audit": JobSpec(
        "worker.jobs.ledger.ledger_audit",
        RECONCILIATION,
        retries=2,
        intervals=(60, 600),
        timeout_s=4 * 3600,
    ),
    "ledger-audit-recent": JobSpec(
        "worker.jobs.ledger.ledger_audit_recent", RECONCILIATION, retries=2, intervals=(30, 120)
    ),
    # Transient provider errors only (the job raises for those); as many tries in all as
    # gateway.services.messaging.outbox.MAX_ATTEMPTS.
    "send-sms": JobSpec("worker.jobs.messaging.send_sms", SMS, retries=3, intervals=(30, 120, 600)),
    # Identical texts to many phones in one provider request (comma-separated outbox ids);
    # same retry policy as send-sms: a retry claims only the messages put back in the queue.
    "send-sms-batch": JobSpec(
        "worker.jobs.messaging.send_sms_batch", SMS, retries=3, intervals=(30, 120, 600)
    ),
    # Idempotent (D17: one row per reminder occurrence), so a retry never sends twice.
    "run-reminders": JobSpec(
        "worker.jobs.reminders.run_reminders", SMS, retries=2, intervals=(60, 300), timeout_s=600
    ),
    # D9/D16: coverage-start notices, at most once per household and start day (outbox dedupe
    # key), so a retry or a second run queues nothing twice.
    "coverage-starts": JobSpec(
        "worker.jobs.notices.coverage_starts", SMS, retries=2, intervals=(60, 300), timeout_s=600
    ),
    # One provider, mutual and business day (args: provider, mutual code, ISO day); matching
    # is idempotent, so a retry after a crash finishes the work without doing it twice.
    "reconcile": JobSpec(
        "worker.jobs.reconciliation.reconcile", RECONCILIATION, retries=2, intervals=(60, 600)
    ),
    "sms-dispatch": JobSpec(
        "worker.jobs.messaging.sms_dispatch", SMS, retries=1, intervals=(30,), timeout_s=120
    ),
    # D21: agents holding cash too long; alerts are idempotent, so a rerun raises none.
    "agent-cash-age": JobSpec(
        "worker.jobs.agents.agent_cash_age", RECONCILIATION, retries=2, intervals=(60, 600)
    ),
    # Payments (worker/jobs/payments.py). An initiate retry never re-sends a request whose
    # outcome is unknown (start_initiation moves it to UNKNOWN, resolved by status polls).
    "initiate-payment": JobSpec(
        "worker.jobs.payments.initiate_payment", PAYMENTS, retries=3, intervals=(10, 60, 300)
    ),
    # A status query that got no answer raises: tried again with backoff, then the sweeper's
    # polls take over.
    "confirm-payment": JobSpec(
        "worker.jobs.payments.confirm_payment",
        CONFIRMATIONS,
        retries=4,
        intervals=(10, 30, 120, 600),
    ),
    # Failures are recorded by the job itself (poll_failed: backoff, expiry, escalation).
    "poll-payment": JobSpec(
        "worker.jobs.payments.poll_payment",
        CONFIRMATIONS,
        retries=1,
        intervals=(60,),
        timeout_s=120,
    ),
    "sweep-payments": JobSpec(
        "worker.jobs.payments.sweep_payments",
        CONFIRMATIONS,
        retries=1,
        intervals=(30,),
        timeout_s=120,
    ),
    # CSV exports (gateway.console.exports): idempotent, the file written under a temporary
    # name; the last failure marks the export failed.
    "export-csv": JobSpec(
        "worker.jobs.exports.export_csv", DEFAULT, retries=2, intervals=(30, 300), timeout_s=3600
    ),
    # Re-enqueues the exports whose enqueue was lost (Redis down or flushed at the commit).
    "sweep-exports": JobSpec(
        "worker.jobs.exports.sweep_exports", DEFAULT, retries=1, intervals=(30,), timeout_s=120
    ),
    # D22 indicators (worker/jobs/indicators.py): a mutual's periods from a day (args: mutual
    # id, ISO day or ""), and the periodic run over the dirty marks. Both replace whole periods
    # in one transaction, so a retry or a second run writes the same rows.
    "recompute-indicators": JobSpec(
        "worker.jobs.indicators.recompute_indicators",
        DEFAULT,
        retries=2,
        intervals=(60, 300),
        timeout_s=1800,
    ),
    "recompute-dirty-indicators": JobSpec(
        "worker.jobs.indicators.recompute_dirty_indicators",
        DEFAULT,
        retries=1,
        intervals=(60,),
        timeout_s=1800,
    ),
    # The sandbox's callback by HTTP: retried while the gateway does not answer.
    "sandbox-decide": JobSpec(
        "worker.jobs.payments.sandbox_decide", PAYMENTS, retries=3, intervals=(5, 30, 120)
    ),
}


def spec(name: str) -> JobSpec:
    try:
        return JOBS[name]
    except KeyError:
        raise KeyError(f"unknown job {name!r}; known: {', '.join(sorted(JOBS))}") from None


def enqueue(
    connection: redis.Redis[bytes], name: str, *args: str, job_id: str | None = None
) -> Job:
    """Enqueue a registered job by name with its queue, retry policy and timeout. A job id
    whose job is still queued, scheduled or running is not enqueued again (issue 15: each
    duplicate callback re-enqueued its confirm job): that job is returned."""
    job = spec(name)
    queue = Queue(job.queue, connection=connection)
    if job_id is not None and (found := _live(connection, job_id)) is not None:
        log.info("job %s already %s: not enqueued again", job_id, found.get_status(refresh=False))
        return found
    return queue.enqueue_call(
        job.path,
        args=args,
        job_id=job_id,
        retry=job.retry(),
        timeout=job.timeout_s,
        description=f"{name}({', '.join(args)})",
    )


def _live(connection: redis.Redis[bytes], job_id: str) -> Job | None:
    try:
        found = Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        return None
    if orphaned(connection, found):
        rescue_orphan(connection, found)
    return found if found.get_status(refresh=False) in LIVE else None


def orphaned(connection: redis.Redis[bytes], job: Job, after_s: int = ORPHAN_AFTER_S) -> bool:
    """A job marked QUEUED, queued more than `after_s` ago, that is in no queue: a worker took
    it (RQ moves it to an intermediate list, then starts it) and Redis was killed or restarted
    in between (issue 15, found by tests/faults/test_redis_kill.py). Its id kept the sweepers
    from enqueueing it again, and RQ's own clean-up fails it only minutes later."""
    if job.get_status(refresh=False) != JobStatus.QUEUED or job.enqueued_at is None:
        return False
    queued_at = job.enqueued_at.replace(tzinfo=job.enqueued_at.tzinfo or dt.UTC)
    if dt.datetime.now(dt.UTC) - queued_at < dt.timedelta(seconds=after_s):
        return False  # a worker may be moving it from the intermediate list right now
    queue = Queue(job.origin, connection=connection)
    return connection.lpos(queue.key, job.id) is None


def rescue_orphan(connection: redis.Redis[bytes], job: Job) -> bool:
    """Put an orphaned job back in its queue, once however many sweepers meet it (SET NX).
    Should the worker that took it be alive after all, the job runs twice: jobs are safe to."""
    if not connection.set(f"gateway:orphan:{job.id}", 1, nx=True, ex=ORPHAN_AFTER_S):
        return False
    queue = Queue(job.origin, connection=connection)
    connection.lrem(IntermediateQueue.get_intermediate_queue_key(queue.key), 0, job.id)
    queue.enqueue_job(job)
    log.warning("job %s was taken from %s and never started: queued again", job.id, queue.name)
    return True


Deferred = tuple[str, tuple[str, ...], str | None]


def defer(session: Session, name: str, *args: str, job_id: str | None = None) -> None:
    """Enqueue job `name` once `session` commits; dropped if it rolls back."""
    spec(name)  # an unknown name fails now, in the caller, not after the commit
    session.info.setdefault(DEFERRED, []).append((name, args, job_id))


def enqueue_after_commit(
    factory: sessionmaker[Session], connection: Callable[[], redis.Redis[bytes]]
) -> None:
    """Install the listeners on a session factory; `connection` gives the Redis client."""

    def flush(session: Session) -> None:
        pending: list[Deferred] = session.info.pop(DEFERRED, [])
        for name, args, job_id in pending:
            try:
                enqueue(connection(), name, *args, job_id=job_id)
            except redis.RedisError as exc:
                # The committed row is the record: the job's sweeper enqueues it later.
                log.warning("enqueue after commit failed job=%s args=%s: %s", name, args, exc)

    def drop(session: Session) -> None:
        session.info.pop(DEFERRED, None)

    event.listen(factory, "after_commit", flush)
    event.listen(factory, "after_rollback", drop)
