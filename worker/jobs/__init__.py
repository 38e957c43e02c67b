"""RQ jobs: ids and ISO dates in, a session scope of their own, safe to run twice.

Settings are built once per worker process by the entry point (`configure`), never at import;
the jobs' runtime builds its engine on first use in the process that runs the job, so a forked
work horse never shares a connection with its parent (gateway.runtime)."""

from __future__ import annotations

import logging
import weakref
from typing import Any

import redis
from rq import get_current_job
from sqlalchemy import Engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from gateway.clock import Clock
from gateway.runtime import Runtime
from gateway.settings import Settings

log = logging.getLogger(__name__)


class JobContext(Runtime):
    """The worker's runtime; inside a running job, Redis is that job's connection (the
    worker's), so that what a job enqueues lands where the worker reads."""

    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        super().__init__(settings, clock)
        self._opened: weakref.WeakSet[Session] = weakref.WeakSet()

    @property
    def redis(self) -> redis.Redis[bytes]:
        job = get_current_job()
        if job is not None:
            return job.connection
        return super().redis

    def _build_database(self) -> tuple[Engine, sessionmaker[Session]]:
        """The runtime's engine and sessions; each session that begins is remembered (weakly)
        so that after_job finds one a job left open."""
        engine, factory = super()._build_database()
        if not event.contains(factory, "after_begin", self._remember):
            event.listen(factory, "after_begin", self._remember)
        return engine, factory

    def _remember(self, session: Session, _transaction: Any, _connection: Any) -> None:
        self._opened.add(session)

    def after_job(self, failure: BaseException | None = None) -> None:
        """Between two jobs of a long-lived worker (worker.inprocess, issue 19): a session
        the job left open is rolled back and closed, so nothing of a job's transaction or
        identity map reaches the next; a job that failed on the database (a dropped
        connection, a server restart) drops the pool, so the next job connects anew."""
        for session in list(self._opened):
            if session.in_transaction():
                log.warning("a job left a database session open: rolled back and closed")
                session.close()
        engine = self._engine
        if engine is None:
            return
        if isinstance(failure, DBAPIError) or _leaked(engine):
            log.warning("database connections dropped after a job (%s)", type(failure).__name__)
            engine.dispose()


def _leaked(engine: Engine) -> bool:
    """A connection still checked out between jobs (held by something other than a
    session, e.g. a job's own engine.connect() left open)."""
    checkedout = getattr(engine.pool, "checkedout", None)
    return bool(checkedout and checkedout())


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
