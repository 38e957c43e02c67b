"""RQ jobs: ids and ISO dates in, a session scope of their own, safe to run twice.

Settings are built once per worker process by the entry point (`configure`), never at import;
the engine is built on first use in the process that runs the job, so a forked work horse
never shares a connection with its parent."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import redis
from rq import get_current_job
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from gateway.clock import Clock
from gateway.db import make_engine, make_session_factory, session_scope
from gateway.providers.sms import sms_provider
from gateway.queueing import enqueue_after_commit
from gateway.redis_conn import connect_redis
from gateway.services.messaging import SmsProvider
from gateway.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class JobContext:
    """Settings and clock of this worker process, and its engine built lazily per process."""

    settings: Settings
    clock: Clock = field(default_factory=Clock)
    _engine: Engine | None = field(default=None, repr=False)
    _factory: sessionmaker[Session] | None = field(default=None, repr=False)
    _pid: int = field(default=0, repr=False)
    sms: SmsProvider | None = None
    _redis: redis.Redis[bytes] | None = field(default=None, repr=False)

    def sms_provider(self) -> SmsProvider:
        """The configured SMS provider, built on first use (tests may set `sms`)."""
        if self.sms is None:
            self.sms = sms_provider(self.settings)
        return self.sms

    def redis(self) -> redis.Redis[bytes]:
        """The running job's Redis connection, else (commands, tests) the configured one."""
        job = get_current_job()
        if job is not None:
            return job.connection
        if self._redis is None:
            self._redis = connect_redis(self.settings)
        return self._redis

    def session_factory(self) -> sessionmaker[Session]:
        if self._factory is None or self._pid != os.getpid():
            if self._engine is not None:
                self._engine.dispose(close=False)  # inherited by fork: leave the parent's alone
            self._engine = make_engine(self.settings.database_url)
            self._factory = make_session_factory(self._engine)
            enqueue_after_commit(self._factory, self.redis)
            self._pid = os.getpid()
        return self._factory

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits when the job's block succeeds, rolls back otherwise."""
        with session_scope(self.session_factory()) as session:
            yield session

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
        self._engine = self._factory = None


_context: JobContext | None = None


def configure(settings: Settings, clock: Clock | None = None) -> JobContext:
    """Called by the worker entry point (and tests) before any job runs."""
    global _context
    if _context is not None:
        _context.close()
    _context = JobContext(settings, clock or Clock())
    return _context


def context() -> JobContext:
    """The process's context; built from the environment if the entry point did not (e.g. a
    plain `rq worker`)."""
    return _context or configure(Settings.from_env())
