"""A dead worker's job is known dead within seconds (issue 15, point 4): a running job's
heartbeat lasts JOB_MONITORING_S + HEARTBEAT_GRACE_S (RQ's: its 30 s interval + 60 s), and the
scheduler's tick reclaims an expired one at once (RQ's registry clean-up, run at a worker's
maintenance, then the job's backoff, made a killed initiation recover in 259 s)."""

from __future__ import annotations

import time

import redis
from rq import Queue, Retry
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, StartedJobRegistry

from worker import main, registry, schedule
from worker.inprocess import InProcessWorker
from worker.schedule import HEARTBEAT_GRACE_S, JOB_MONITORING_S, reclaim_abandoned


def test_a_running_jobs_heartbeat_lasts_the_monitoring_interval_and_a_short_grace(
    redis_client: redis.Redis[bytes],
) -> None:
    worker = main._worker(redis_client, [registry.PAYMENTS])
    assert worker.job_monitoring_interval == JOB_MONITORING_S
    job = Queue(registry.PAYMENTS, connection=redis_client).enqueue(
        "builtins.len", "ab", job_timeout=600
    )
    assert worker.get_heartbeat_ttl(job) == JOB_MONITORING_S + HEARTBEAT_GRACE_S
    assert worker.get_heartbeat_ttl(job, working_time=598) == 2 + HEARTBEAT_GRACE_S
    assert JOB_MONITORING_S + HEARTBEAT_GRACE_S <= 20  # RQ's own: 30 + 60
    assert isinstance(worker, InProcessWorker)  # `gateway worker`'s (issue 19)


def started(
    connection: redis.Redis[bytes], retries: int, expires_in_s: float, name: str = "x"
) -> Job:
    """A job a worker took and runs, its heartbeat ending `expires_in_s` from now (past: its
    worker died)."""
    queue = Queue(registry.PAYMENTS, connection=connection)
    job = queue.enqueue(
        "builtins.len", name, retry=Retry(max=retries, interval=[60]) if retries else None
    )
    queue.remove(job)
    job.set_status(JobStatus.STARTED)
    key = StartedJobRegistry(queue=queue).key
    connection.zadd(key, {f"{job.id}:exec-1": time.time() + expires_in_s})
    return job


def test_a_dead_workers_job_is_retried_at_once_and_a_live_one_left(
    redis_client: redis.Redis[bytes],
) -> None:
    dead = started(redis_client, retries=2, expires_in_s=-1, name="dead")
    alive = started(redis_client, retries=2, expires_in_s=10, name="alive")
    spent = started(redis_client, retries=0, expires_in_s=-1, name="spent")

    assert reclaim_abandoned(redis_client) == [dead.id]
    queue = Queue(registry.PAYMENTS, connection=redis_client)
    assert queue.job_ids == [dead.id]  # now, not after the job's 60 s backoff
    assert dead.get_status(refresh=True) == JobStatus.QUEUED
    assert alive.get_status(refresh=True) == JobStatus.STARTED
    assert spent.id in FailedJobRegistry(queue=queue).get_job_ids()  # RQ's rule: no retry left
    assert reclaim_abandoned(redis_client) == []  # once


def test_the_scheduler_tick_reclaims_and_runs_often() -> None:
    assert schedule.TICK_S <= 5
    every = {p.job: p.every_s for p in schedule.SCHEDULE}
    assert every["sweep-payments"] == every["sms-dispatch"] == schedule.SWEEP_EVERY_S <= 20
