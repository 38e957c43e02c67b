"""The one scheduling module: a table of periodic jobs and a small loop that enqueues them.

Each occurrence (a day, an hour...) is claimed with Redis SET NX under a key that expires
after a few periods, and enqueued under a deterministic job id, so any number of schedulers
(workers, restarts) enqueue every occurrence once. Jobs are idempotent anyway."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import redis
from rq import Queue
from rq.job import Job
from rq.registry import ScheduledJobRegistry, StartedJobRegistry

from gateway.clock import Clock
from worker import registry

log = logging.getLogger(__name__)
KEY_PREFIX = "gateway:schedule"
DAY_S = 86_400
KEEP_CLAIMS_S = 3600  # an occurrence claim of a job run more often than hourly
# Every tick also reclaims abandoned jobs (reclaim_abandoned): 5 s, so that a dead worker's
# job is retried within seconds of its heartbeat's end (issue 15: recovery under 90 s).
TICK_S = 5.0
# RQ's scheduler moves a due job to its queue within a second while it runs; a job this much
# past its time has no live scheduler (its lock held by a dead worker, issue 15): rescued.
OVERDUE_S = 10
# RQ's worker retries taking the scheduler lock at its maintenance, every 600 s by default,
# and its dequeue wait (worker_ttl - 15 s) delays that further: both shortened so that a
# worker started after a crash runs RQ's scheduler within about a minute.
MAINTENANCE_S = 30
WORKER_TTL_S = 60
# A running job's heartbeat (RQ's started-registry score, renewed by the worker's monitor
# loop every JOB_MONITORING_S) lasts JOB_MONITORING_S + HEARTBEAT_GRACE_S, not RQ's
# interval + 60 s: a SIGKILLed worker's job is known abandoned 15 s after its last beat
# (issue 15; worker.rq_workers.Worker.get_heartbeat_ttl).
JOB_MONITORING_S = 5
HEARTBEAT_GRACE_S = 10
# The payment sweeper and sms-dispatch run this often (issue 15: a killed worker's payment
# and receipts recover in well under 90 s); their queries read indexed columns (intent state
# and next poll, outbox status), but for the unapplied callbacks' (payment_events.outcome).
SWEEP_EVERY_S = 15
RECLAIM_KEY = f"{KEY_PREFIX}:reclaim"  # held for a tick by the scheduler reclaiming jobs


@dataclass(frozen=True)
class Periodic:
    """A job (registry name) run every `every_s` seconds, or daily at `daily_at` UTC.

    `with_day` passes the occurrence's date (ISO) as the job's only argument."""

    job: str
    every_s: int | None = None
    daily_at: dt.time | None = None
    with_day: bool = False

    def __post_init__(self) -> None:
        if (self.every_s is None) == (self.daily_at is None):
            raise ValueError(f"{self.job}: give exactly one of every_s or daily_at")
        if self.every_s is not None and self.every_s <= 0:
            raise ValueError(f"{self.job}: every_s must be positive")

    @property
    def period_s(self) -> int:
        return self.every_s or DAY_S

    def latest(self, now: dt.datetime) -> dt.datetime:
        """The most recent occurrence at or before `now` (UTC)."""
        now = now.astimezone(dt.UTC)
        if self.daily_at is not None:
            today = dt.datetime.combine(now.date(), self.daily_at, tzinfo=dt.UTC)
            return today if today <= now else today - dt.timedelta(days=1)
        epoch = int(now.timestamp())
        return dt.datetime.fromtimestamp(epoch - epoch % self.period_s, dt.UTC)

    def stamp(self, at: dt.datetime) -> str:
        """The occurrence's name: a date, or a date and hour (minutes, seconds if needed)."""
        if self.daily_at is not None:
            return at.date().isoformat()
        if self.period_s % 3600 == 0:
            return at.strftime("%Y-%m-%dT%H")
        if self.period_s % 60 == 0:
            return at.strftime("%Y-%m-%dT%H%M")
        return at.strftime("%Y-%m-%dT%H%M%S")

    def args(self, at: dt.datetime) -> tuple[str, ...]:
        return (at.date().isoformat(),) if self.with_day else ()


SCHEDULE: tuple[Periodic, ...] = (
    Periodic("daily-allocation", daily_at=dt.time(0, 15), with_day=True),
    # The full ledger audit reads every entry (seconds per million): nightly. The recent audit
    # checks what changed since its last run (issue 19), so that a breach holds within minutes.
    Periodic("ledger-audit", daily_at=dt.time(2, 30)),
    Periodic("ledger-audit-recent", every_s=300),
    Periodic("sms-dispatch", every_s=SWEEP_EVERY_S),
    Periodic("run-reminders", every_s=300),
    Periodic("coverage-starts", every_s=3600),
    Periodic("agent-cash-age", daily_at=dt.time(6, 0)),
    Periodic("sweep-payments", every_s=SWEEP_EVERY_S),
    Periodic("sweep-exports", every_s=60),
    Periodic("recompute-dirty-indicators", every_s=60),  # D22: recompute the periods writes changed
)


def occurrence_key(name: str, stamp: str) -> str:
    """The key that claims one occurrence: gateway:schedule:ledger-audit:2026-11-24T10."""
    return f"{KEY_PREFIX}:{name}:{stamp}"


def job_id(name: str, stamp: str) -> str:
    """RQ job ids allow letters, digits, '_' and '-' only: daily-allocation-2026-11-24."""
    return f"{name}-{stamp}".replace(":", "-")


class Scheduler:
    """Enqueues due occurrences of `table`; several instances may run at once."""

    def __init__(
        self,
        connection: redis.Redis[bytes],
        table: Sequence[Periodic] = SCHEDULE,
        clock: Clock | None = None,
    ) -> None:
        self.connection = connection
        self.table = tuple(table)
        self.clock = clock or Clock()

    def tick(self) -> list[str]:
        """Enqueue every latest occurrence not yet claimed; returns the ids enqueued here."""
        now = self.clock.now()
        return [jid for entry in self.table if (jid := self._fire(entry, now))]

    def _fire(self, entry: Periodic, now: dt.datetime) -> str | None:
        at = entry.latest(now)
        stamp = entry.stamp(at)
        key = occurrence_key(entry.job, stamp)
        ttl = max(3 * entry.period_s, KEEP_CLAIMS_S if entry.period_s < 3600 else DAY_S)
        if not self.connection.set(key, job_id(entry.job, stamp), nx=True, ex=ttl):
            return None
        try:
            job = registry.enqueue(
                self.connection, entry.job, *entry.args(at), job_id=job_id(entry.job, stamp)
            )
        except Exception:
            self.connection.delete(key)  # let the next tick (here or elsewhere) try again
            raise
        log.info("scheduled %s", job.id)
        return job.id

    def run(self, stop: threading.Event, interval_s: float = TICK_S) -> None:
        """Tick (reclaim abandoned jobs, rescue overdue scheduled ones) until `stop` is set;
        a failing tick (Redis away) is logged, not fatal."""
        while not stop.is_set():
            try:
                self.tick()
                # One reclaimer per tick among the workers: two would each spend a retry.
                if self.connection.set(RECLAIM_KEY, 1, nx=True, ex=max(1, int(interval_s) - 1)):
                    reclaim_abandoned(self.connection)
                rescue_overdue(self.connection)
            except Exception:
                log.exception("scheduler tick failed")
            stop.wait(interval_s)

    def start_thread(self, stop: threading.Event, interval_s: float = TICK_S) -> threading.Thread:
        thread = threading.Thread(
            target=self.run, args=(stop, interval_s), name="gateway-scheduler", daemon=True
        )
        thread.start()
        return thread


def rescue_overdue(
    connection: redis.Redis[bytes],
    queues: Sequence[str] = registry.QUEUES,
    overdue_s: int = OVERDUE_S,
) -> list[str]:
    """Move scheduled jobs (backoff retries, sandbox decisions) more than `overdue_s` past
    their time to their queues, as RQ's scheduler would have (issue 15: after a crash its
    lock blocks them until RQ's maintenance). Each job is taken from the registry with ZREM
    first, so one rescuer (or RQ's scheduler) enqueues it, never two. Returns the job ids."""
    cutoff = int(time.time()) - overdue_s
    rescued: list[str] = []
    for name in queues:
        queue = Queue(name, connection=connection)
        for job_id in scheduled_of(queue).get_jobs_to_schedule(cutoff):
            if rescue_job(connection, queue, job_id):
                rescued.append(job_id)
    if rescued:
        log.warning("rescued %d overdue scheduled job(s): %s", len(rescued), ", ".join(rescued))
    return rescued


def scheduled_of(queue: Queue) -> ScheduledJobRegistry:
    """RQ's registry of the queue's scheduled jobs (its constructor is untyped)."""
    return ScheduledJobRegistry(queue=queue)  # type: ignore[no-untyped-call]


def rescue_job(connection: redis.Redis[bytes], queue: Queue, job_id: str) -> bool:
    """Enqueue one scheduled job now if this call is the one that took it from the queue's
    scheduled registry."""
    if not connection.zrem(scheduled_of(queue).key, job_id):
        return False  # RQ's scheduler or another rescuer has it
    job = Job.fetch(job_id, connection=connection) if Job.exists(job_id, connection) else None
    if job is None:
        return False
    queue.enqueue_job(job, at_front=job.should_enqueue_at_front())
    return True


def overdue(connection: redis.Redis[bytes], job: Job, overdue_s: int = OVERDUE_S) -> bool:
    """A SCHEDULED job past its time by more than `overdue_s` (no live scheduler)."""
    key = scheduled_of(Queue(job.origin, connection=connection)).key
    score = connection.zscore(key, job.id)
    return score is not None and score < time.time() - overdue_s


def reclaim_abandoned(
    connection: redis.Redis[bytes], queues: Sequence[str] = registry.QUEUES
) -> list[str]:
    """Jobs whose worker died mid-run (their heartbeat expired: JOB_MONITORING_S +
    HEARTBEAT_GRACE_S after its last beat), handled as RQ's own registry clean-up does
    (retried if they have retries left, else failed), now rather than at a worker's next
    maintenance (issue 15). A retry is run at once, not after the job's backoff: a crash
    interrupted it, not a provider that asked to wait. Returns the jobs retried."""
    now = time.time()
    retried: list[str] = []
    for name in queues:
        queue = Queue(name, connection=connection)
        started = StartedJobRegistry(queue=queue)
        expired = started.get_expired_job_ids(now)
        if not expired:
            continue
        started.cleanup(timestamp=now)
        retried += [job_id for job_id in expired if rescue_job(connection, queue, job_id)]
    if retried:
        log.warning("retried %d abandoned job(s): %s", len(retried), ", ".join(retried))
    return retried
