"""Worker entry point: one RQ worker on the gateway's queues, plus the periodic scheduler.

Settings, the Redis connection and the jobs' context are built here, once per process, and
kept from job to job: the worker runs jobs in its own process (worker.inprocess, issue 19)."""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import redis
from rq import Queue
from rq.exceptions import StopRequested
from rq.worker import DequeueStrategy

from gateway.clock import Clock
from gateway.lib.redact import RedactingFormatter
from gateway.settings import Settings
from worker import jobs, registry
from worker.inprocess import InProcessWorker, Limits
from worker.schedule import JOB_MONITORING_S, MAINTENANCE_S, WORKER_TTL_S, Scheduler

log = logging.getLogger(__name__)
LOG_FORMAT = "%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"
RESUME_PROBE_S = 1.0  # how often a worker that lost Redis asks whether it is back


@dataclass(frozen=True)
class Outcome:
    """How run_worker ended: whether any job ran (its truth), and whether it stopped on a
    limit, for `gateway worker` to exit with RECYCLE_EXIT (its supervisor starts anew)."""

    ran: bool
    recycle: bool = False

    def __bool__(self) -> bool:
        return self.ran


def check_queues(names: Sequence[str]) -> tuple[str, ...]:
    """The queues asked for, all of them by default; unknown names raise ValueError."""
    chosen = tuple(dict.fromkeys(names)) or registry.QUEUES
    unknown = [name for name in chosen if name not in registry.QUEUES]
    if unknown:
        raise ValueError(
            f"unknown queue(s) {', '.join(unknown)}; known: {', '.join(registry.QUEUES)}"
        )
    return chosen


def run_worker(
    settings: Settings,
    queues: Sequence[str] = (),
    burst: bool = False,
    clock: Clock | None = None,
) -> Outcome:
    """Work the queues until stopped (SIGINT/SIGTERM: warm shutdown), or until they are empty
    with `burst`, or until a memory or job-count limit asks for a fresh process
    (the outcome's `recycle`). The scheduler thread runs beside a long-lived worker only. The
    outcome is true when any job ran."""
    names = check_queues(queues)
    if not logging.getLogger().handlers:
        handler = logging.StreamHandler(sys.__stderr__)  # not a swapped sys.stderr (app.py)
        handler.setFormatter(RedactingFormatter(LOG_FORMAT))  # no phone nor token in a line
        logging.basicConfig(level=logging.INFO, handlers=[handler])
    context = jobs.configure(settings, clock)
    connection = context.rq_redis()
    limits = Limits(settings.worker_max_rss_mb, settings.worker_max_jobs)
    # The worker first: RQ raises its connection pool's read timeout above its blocking
    # dequeue's, and a connection the scheduler thread opened before that keeps the short one
    # (every idle dequeue then times out, and RQ backs off up to a minute between tries).
    worker = _worker(connection, names, limits)
    stop = threading.Event()
    if not burst:
        Scheduler(connection, clock=clock).start_thread(stop)
    ran = False
    try:
        while True:
            try:
                ran = _work(worker, burst) or ran
            except redis.RedisError:  # its teardown too found Redis gone
                log.exception("the worker lost Redis")
            if burst or worker.stop_requested or not wait_for_redis(connection):
                return Outcome(ran, worker.recycle)
            worker = _worker(connection, names, limits)
    finally:
        stop.set()
        jobs.context().close()
        log.info("worker stopped")


def _worker(
    connection: redis.Redis[bytes], names: Sequence[str], limits: Limits | None = None
) -> InProcessWorker:
    context = jobs.context()
    return InProcessWorker(
        [Queue(n, connection=connection) for n in names],
        connection=connection,
        maintenance_interval=MAINTENANCE_S,
        worker_ttl=WORKER_TTL_S,
        job_monitoring_interval=JOB_MONITORING_S,
        limits=limits,
        after_job=context.after_job,
    )


def _work(worker: InProcessWorker, burst: bool) -> bool:
    """RQ's loop. with_scheduler: RQ moves retried (delayed) jobs back to their queues.
    Round robin: a busy queue (payments) does not starve the others (sms) (issue 15)."""
    return worker.work(
        burst=burst,
        with_scheduler=True,
        logging_level="INFO",
        dequeue_strategy=DequeueStrategy.ROUND_ROBIN,
    )


def wait_for_redis(connection: redis.Redis[bytes], probe_s: float = RESUME_PROBE_S) -> bool:
    """RQ's loop ended without a stop request: it lost Redis (a restart, a kill) and quit,
    and `gateway worker` exited 0, which systemd's Restart=on-failure does not restart
    (issue 15). Wait until Redis answers again (True: start a new RQ worker); a SIGTERM or
    SIGINT meanwhile stops the wait (False)."""
    log.warning("the worker's loop ended without a stop request: waiting for Redis to resume")
    try:
        while True:
            try:
                connection.ping()
            except redis.RedisError:
                time.sleep(probe_s)
                continue
            log.warning("Redis answers again: the worker resumes")
            return True
    except StopRequested:  # RQ's handler of the first SIGTERM/SIGINT, outside a job
        return False


if __name__ == "__main__":  # pragma: no cover - `python -m worker.main`
    run_worker(Settings.from_env())
