"""Worker entry point: one RQ worker on the gateway's queues, plus the periodic scheduler.

Settings, the Redis connection and the jobs' context are built here, once per process."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from rq import Queue
from rq.worker import DequeueStrategy

from gateway.clock import Clock
from gateway.lib.redact import RedactingFormatter
from gateway.settings import Settings
from worker import jobs, registry
from worker.rq_workers import Worker
from worker.schedule import MAINTENANCE_S, WORKER_TTL_S, Scheduler

log = logging.getLogger(__name__)
LOG_FORMAT = "%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"


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
) -> bool:
    """Work the queues until stopped (SIGINT/SIGTERM: warm shutdown), or until they are empty
    with `burst`. The scheduler thread runs beside a long-lived worker only. Returns whether
    any job ran."""
    names = check_queues(queues)
    if not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(RedactingFormatter(LOG_FORMAT))  # no phone nor token in a line
        logging.basicConfig(level=logging.INFO, handlers=[handler])
    connection = jobs.configure(settings, clock).rq_redis()
    worker = Worker(
        [Queue(n, connection=connection) for n in names],
        connection=connection,
        maintenance_interval=MAINTENANCE_S,
        worker_ttl=WORKER_TTL_S,
    )
    stop = threading.Event()
    if not burst:
        Scheduler(connection, clock=clock).start_thread(stop)
    try:
        # with_scheduler: RQ moves retried (delayed) jobs back to their queues. Round robin:
        # a busy queue (payments) does not starve the others (sms) in one process (issue 15).
        return worker.work(
            burst=burst,
            with_scheduler=True,
            logging_level="INFO",
            dequeue_strategy=DequeueStrategy.ROUND_ROBIN,
        )
    finally:
        stop.set()
        jobs.context().close()
        log.info("worker stopped")


if __name__ == "__main__":  # pragma: no cover - `python -m worker.main`
    run_worker(Settings.from_env())
