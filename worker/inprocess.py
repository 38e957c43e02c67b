"""`gateway worker`'s RQ worker: jobs run in the worker process itself, not in a fork per job.

RQ's forking worker gave every job a new process whose engine, connections and caches
(SQLAlchemy's compiled statements, the mutual's settings, the providers' clients) started
cold: 165-260 ms of CPU per job, 3.5 payment confirmations a second (issue 19). Here the
process keeps its runtime between jobs, and keeps what the fork gave:

- timeouts: SIGALRM in the main thread stops a job at its timeout, as RQ's own death penalty;
  a job that swallows that exception (a broad `except Exception` around a provider call) is
  hit again TIMEOUT_GRACE_S later by one that `except Exception` does not catch;
- liveness: a thread renews the running job's heartbeat, as the forking worker's monitor loop
  did, so a SIGKILLed worker's job is reclaimed seconds after its last beat;
- hygiene: after each job, a session the job left open is rolled back and closed, and a job
  that failed on the database drops the pooled connections (jobs.JobContext.after_job);
- memory: after the job that takes resident memory past `max_rss_mb`, or after `max_jobs`
  jobs, the worker stops as on a warm shutdown and `gateway worker` exits with RECYCLE_EXIT,
  for its supervisor to start a fresh one;
- SIGTERM / SIGINT: the running job finishes, then the worker stops (RQ's warm shutdown)."""

from __future__ import annotations

import logging
import os
import resource
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any

import rq
from rq.executions import Execution
from rq.job import Job
from rq.queue import Queue
from rq.timeouts import UnixSignalDeathPenalty
from rq.worker import WorkerStatus

from worker.rq_workers import RedactedFailures, ShortHeartbeat, stop_listening

log = logging.getLogger(__name__)
RECYCLE_EXIT = 75  # EX_TEMPFAIL: "start me again"; the units list it as a clean exit
TIMEOUT_GRACE_S = 5
AfterJob = Callable[[BaseException | None], None]


class JobKilled(BaseException):
    """A job that kept running after its timeout exception: not an Exception, so that the
    job's own `except Exception` clauses let it through."""


class DeathPenalty(UnixSignalDeathPenalty):
    """RQ's SIGALRM timeout, with a second, uncatchable-by-`except Exception` alarm."""

    def handle_death_penalty(self, signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGALRM, self._kill)
        signal.alarm(TIMEOUT_GRACE_S)
        super().handle_death_penalty(signum, frame)  # type: ignore[no-untyped-call]

    def _kill(self, signum: int, frame: FrameType | None) -> None:
        timeout = self._timeout
        raise JobKilled(f"job still running {TIMEOUT_GRACE_S}s after its timeout ({timeout}s)")


@dataclass(frozen=True)
class Limits:
    """When a worker makes way for a fresh process (0: no limit)."""

    max_rss_mb: int = 0
    max_jobs: int = 0


def rss_mb() -> float:
    """The process's resident memory now (Linux /proc), else its peak (getrusage)."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):  # pragma: no cover - not Linux
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _Beat(threading.Thread):
    """Renews a running job's heartbeat every job_monitoring_interval until stopped; stopped
    before the job's end is recorded, so that no late beat puts it back in the started
    registry (where it would look abandoned once that beat ends)."""

    def __init__(self, worker: InProcessWorker, job: Job, execution: Execution) -> None:
        super().__init__(name=f"heartbeat-{job.id}", daemon=True)
        self.worker, self.job, self.execution = worker, job, execution
        self.done = threading.Event()
        self.lock = threading.Lock()

    def run(self) -> None:
        while not self.done.wait(self.worker.job_monitoring_interval):
            with self.lock:
                if self.done.is_set():
                    return
                try:
                    self.worker.maintain_heartbeats(self.job, self.execution)
                except Exception:  # Redis away: the next beat tries again
                    log.warning("heartbeat of job %s failed", self.job.id, exc_info=True)

    def stop(self) -> None:
        with self.lock:
            self.done.set()


class InProcessWorker(ShortHeartbeat, RedactedFailures, rq.SimpleWorker):
    """RQ's SimpleWorker with timeouts, heartbeats, hygiene and limits (module docstring)."""

    death_penalty_class = DeathPenalty

    def __init__(
        self, *args: Any, limits: Limits | None = None, after_job: AfterJob | None = None,
        **kwargs: Any,
    ) -> None:  # fmt: skip
        super().__init__(*args, **kwargs)
        self.limits = limits or Limits()
        self.after_job = after_job
        self.jobs_done = 0
        self.recycle = False
        self._beat: _Beat | None = None
        self._failure: BaseException | None = None

    def execute_job(self, job: Job, queue: Queue) -> None:
        execution = self.prepare_execution(job)
        self._failure = None
        self._beat = _Beat(self, job, execution)
        self._beat.start()
        try:
            self.perform_job(job, queue, execution)
        finally:
            self._stop_beat()
            if self.after_job is not None:
                self.after_job(self._failure)
        self.set_state(WorkerStatus.IDLE)
        self.jobs_done += 1
        self._check_limits()

    def handle_execution_ended(self, job: Job, queue: Queue, heartbeat_ttl: int) -> None:
        self._stop_beat()
        super().handle_execution_ended(job, queue, heartbeat_ttl)

    def handle_exception(self, job: Job, *exc_info: Any) -> None:
        self._failure = _exception(exc_info)
        super().handle_exception(job, *exc_info)

    def _stop_beat(self) -> None:
        if self._beat is not None:
            self._beat.stop()
            self._beat = None

    def _check_limits(self) -> None:
        """Past a limit: stop as a warm shutdown does, after this job."""
        limits, why = self.limits, ""
        if limits.max_jobs and self.jobs_done >= limits.max_jobs:
            why = f"{self.jobs_done} jobs done (limit {limits.max_jobs})"
        elif limits.max_rss_mb and (rss := rss_mb()) > limits.max_rss_mb:
            why = f"resident memory {rss:.0f} MB (limit {limits.max_rss_mb} MB)"
        if why:
            self.log.warning("Worker %s: %s: stopping for a fresh process", self.name, why)
            self.recycle = True
            self._stop_requested = True

    def unsubscribe(self) -> None:
        stop_listening(self)

    @property
    def stop_requested(self) -> bool:
        """A signal or a limit asked it to stop (not a lost Redis connection)."""
        return bool(self._stop_requested or self._shutdown_requested_date)


def _exception(exc_info: tuple[Any, ...]) -> BaseException | None:
    found = exc_info[1] if len(exc_info) > 1 else None
    return found if isinstance(found, BaseException) else None
