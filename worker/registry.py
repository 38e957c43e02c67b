"""The one list of queues and jobs: each job by dotted path, with its queue and retry policy.

Jobs are named by string so that nothing has to import the job code to enqueue it, and every
job carries an explicit retry policy instead of RQ's default of none."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from rq import Queue, Retry
from rq.job import Job

DEFAULT = "default"
PAYMENTS = "payments"
SMS = "sms"
RECONCILIATION = "reconciliation"
QUEUES: tuple[str, ...] = (DEFAULT, PAYMENTS, SMS, RECONCILIATION)


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
        "worker.jobs.run_daily_allocation", DEFAULT, retries=3, intervals=(60, 300, 1800)
    ),
    "ledger-audit": JobSpec(
        "worker.jobs.audit_ledger", RECONCILIATION, retries=2, intervals=(60, 600)
    ),
    # Transient provider errors only (the job raises for those); as many tries in all as
    # gateway.services.notifications.MAX_ATTEMPTS.
    "send-sms": JobSpec("worker.jobs.send_sms", SMS, retries=3, intervals=(30, 120, 600)),
    # Idempotent (D17: one row per reminder occurrence), so a retry never sends twice.
    "run-reminders": JobSpec(
        "worker.jobs.run_reminders", SMS, retries=2, intervals=(60, 300), timeout_s=600
    ),
    "sms-dispatch": JobSpec(
        "worker.jobs.dispatch_pending_sms", SMS, retries=1, intervals=(30,), timeout_s=120
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
    """Enqueue a registered job by name with its queue, retry policy and timeout."""
    job = spec(name)
    queue = Queue(job.queue, connection=connection)
    return queue.enqueue_call(
        job.path,
        args=args,
        job_id=job_id,
        retry=job.retry(),
        timeout=job.timeout_s,
        description=f"{name}({', '.join(args)})",
    )
