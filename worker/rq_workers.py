"""RQ's Worker and SimpleWorker, with a teardown that does not wait on their pubsub thread.

An RQ worker takes commands (shutdown, stop-job, ...) on a pubsub channel, read by redis-py's
PubSubWorkerThread blocked in get_message(timeout=60). At teardown RQ 3's
BaseWorker.unsubscribe() sends UNSUBSCRIBE, whose reply wakes that read, and only then calls
the thread's stop(), then join(timeout=1). When the thread handles the reply before stop() has
cleared its run flag, it goes round again into get_message(), which, no channel being left,
waits its 60 s for a subscription. RQ's join(timeout=1) bounded that, but redis-py 8's stop()
now joins the thread itself with no timeout: the worker's teardown (a burst's end, a warm
shutdown) then takes 60 s, whenever the thread wins that race (rq 3.0: rq/worker/base.py,
unsubscribe(); redis-py 8.2: redis/client.py, PubSubWorkerThread.stop(), PubSub.get_message()).

Here the flag is cleared first, then the read is woken by a message on the worker's channel
sent through the worker's own connection (the pubsub stays the thread's: it closes it on its
way out), and the join is bounded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis
import rq
from redis.client import PubSubWorkerThread
from rq.command import send_command
from rq.job import Job
from rq.queue import Queue
from rq.worker import BaseWorker

from gateway.lib.redact import redact
from worker.schedule import HEARTBEAT_GRACE_S

# A command RQ's handle_command() does not know, so ignores: it only wakes the thread's read.
WAKE_COMMAND = "wake-to-stop"
# redis-py 8's PubSubWorkerThread.stop() joins the thread (until it ends, or for `timeout`).
STOP_JOINS = int(redis.__version__.split(".")[0]) >= 8
JOIN_TIMEOUT_S = 5.0  # after its wake-up the thread ends in milliseconds; bounds a Redis outage


def stop_listening(worker: BaseWorker) -> None:
    """Stop the worker's pubsub thread without waiting out its read (RQ's unsubscribe())."""
    # Typed here: RQ declares the attribute as None only, which would leave the rest unchecked.
    thread: PubSubWorkerThread | None = worker.pubsub_thread
    if thread is None:
        return
    worker.log.info(
        "Worker %s: unsubscribing from channel %s", worker.name, worker.pubsub_channel_name
    )
    if STOP_JOINS:
        stop: Callable[..., None] = thread.stop  # (types-redis knows the older signature)
        stop(timeout=0)  # clear the flag; timeout=0: do not join here
    else:
        thread.stop()  # only clears the flag
    send_command(worker.connection, worker.name, WAKE_COMMAND)
    thread.join(timeout=JOIN_TIMEOUT_S)
    if thread.is_alive():
        worker.log.warning("Worker %s: pubsub thread still running; left to exit", worker.name)
    worker.pubsub_thread = None


class RedactedFailures(BaseWorker):
    """A failed job's traceback is kept in Redis (the failed job registry, the console's jobs
    page): masked like a log line first, since PostgreSQL's error DETAIL and a provider's
    error body can carry a member's phone number (issue 15, point 7)."""

    def handle_job_failure(
        self, job: Job, queue: Queue, started_job_registry: Any = None, exc_string: str = "",
        execution: Any = None,
    ) -> None:  # fmt: skip
        super().handle_job_failure(
            job, queue, started_job_registry, exc_string=redact(exc_string), execution=execution
        )


class ShortHeartbeat(BaseWorker):
    """A running job's heartbeat, renewed every job_monitoring_interval."""

    heartbeat_grace_s = HEARTBEAT_GRACE_S

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        """How long a running job's heartbeat lasts: until the next beat plus a short grace,
        not RQ's 60 s (issue 15): a dead worker's job is known abandoned, and reclaimed
        (worker.schedule.reclaim_abandoned), seconds after its last beat."""
        beat = int(self.job_monitoring_interval)
        if job.timeout and job.timeout > 0:
            beat = min(beat, int(job.timeout - working_time))
        return max(beat, 1) + self.heartbeat_grace_s


class Worker(ShortHeartbeat, RedactedFailures, rq.Worker):
    """RQ's forking worker (a fork per job; `gateway worker` runs worker.inprocess's)."""

    def unsubscribe(self) -> None:
        stop_listening(self)

    @property
    def stop_requested(self) -> bool:
        """A signal asked it to stop (RQ sets the flag on a warm shutdown during a job, and
        raises StopRequested, caught by its loop, outside one); False when its loop ended
        on an error such as a lost Redis connection."""
        return bool(self._stop_requested or self._shutdown_requested_date)


class SimpleWorker(RedactedFailures, rq.SimpleWorker):
    """RQ's in-process worker (the tests' bursts)."""

    def unsubscribe(self) -> None:
        stop_listening(self)
