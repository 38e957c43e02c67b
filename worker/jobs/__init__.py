"""RQ jobs: ids and ISO dates in, a session scope of their own, safe to run twice.

Settings are built once per worker process by the entry point (`configure`), never at import;
the jobs' runtime builds its engine on first use in the process that runs the job, so a forked
work horse never shares a connection with its parent (gateway.runtime)."""

from __future__ import annotations

import redis
from rq import get_current_job

from gateway.clock import Clock
from gateway.runtime import Runtime
from gateway.settings import Settings


class JobContext(Runtime):
    """The worker's runtime; inside a running job, Redis is that job's connection (the
    worker's), so that what a job enqueues lands where the worker reads."""

    @property
    def redis(self) -> redis.Redis[bytes]:
        job = get_current_job()
        if job is not None:
            return job.connection
        return super().redis


_context: JobContext | None = None


def configure(settings: Settings, clock: Clock | None = None) -> JobContext:
    """Called by the worker entry point (and tests) before any job runs."""
    global _context
    if _context is not None:
        _context.close()
    _context = JobContext(settings, clock)
    return _context


def last_attempt() -> bool:
    """True when a failure now is final: the job's retries are used up, or it runs outside
    RQ (a direct call), so that a job alerts a person instead of only failing in a queue."""
    job = get_current_job()
    return job is None or not job.should_retry


def context() -> JobContext:
    """The process's context; built from the environment if the entry point did not (e.g. a
    plain `rq worker`)."""
    return _context or configure(Settings.from_env())
