"""What the RQ queues hold (console `/console/jobs`, issue 16; beside gateway.queueing, since
services never import rq): each queue's length and its
started, scheduled, deferred and failed counts (Redis counts of lists and sorted sets, never a
scan), the latest failed jobs with their error (the worker masked phones before storing it:
worker.rq_workers.RedactedFailures; the job's description, which shows its arguments, is
masked here), and requeueing one failed job. Jobs belong to no mutual:
only the whole deployment's operators see them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import redis
from rq import Queue
from rq.job import Job

from gateway.lib.redact import redact
from gateway.queueing import QUEUES

FAILED_SHOWN = 50  # per queue, newest first


@dataclass(frozen=True)
class QueueFigures:
    name: str
    queued: int
    started: int
    scheduled: int
    deferred: int
    failed: int


@dataclass(frozen=True)
class FailedJob:
    id: str
    queue: str
    description: str
    ended_at: dt.datetime | None
    error: str  # the traceback's last line
    traceback: str


def queue_figures(connection: redis.Redis[bytes]) -> list[QueueFigures]:
    figures = []
    for name in QUEUES:
        queue = Queue(name, connection=connection)
        figures.append(
            QueueFigures(
                name=name,
                queued=queue.count,
                started=queue.started_job_registry.count,
                scheduled=queue.scheduled_job_registry.count,
                deferred=queue.deferred_job_registry.count,
                failed=queue.failed_job_registry.count,
            )
        )
    return figures


def failed_jobs(
    connection: redis.Redis[bytes], queue_name: str, limit: int = FAILED_SHOWN
) -> list[FailedJob]:
    """The latest failed jobs of one queue, newest first."""
    registry = Queue(queue_name, connection=connection).failed_job_registry
    ids = registry.get_job_ids(0, limit - 1, desc=True)
    jobs = Job.fetch_many(ids, connection=connection)
    return [_failed(job, queue_name) for job in jobs if job is not None]


def _failed(job: Job, queue_name: str) -> FailedJob:
    result = job.latest_result()
    trace = (result.exc_string if result is not None else None) or ""
    lines = [line for line in trace.strip().splitlines() if line.strip()]
    return FailedJob(
        id=job.id,
        queue=queue_name,
        description=redact(job.description or job.func_name or ""),  # its arguments too
        ended_at=job.ended_at.replace(tzinfo=dt.UTC) if job.ended_at else None,
        error=lines[-1] if lines else "",
        traceback=trace,
    )


def find_failed(connection: redis.Redis[bytes], job_id: str) -> str | None:
    """The queue whose failed registry holds `job_id`, None if none does."""
    for name in QUEUES:
        registry = Queue(name, connection=connection).failed_job_registry
        if job_id in registry:
            return name
    return None


def requeue_failed(connection: redis.Redis[bytes], queue_name: str, job_id: str) -> None:
    """Put a failed job back at the end of its queue (RQ keeps its id and arguments: the
    jobs are safe to run twice, architecture.md)."""
    Queue(queue_name, connection=connection).failed_job_registry.requeue(job_id)
