"""RQ jobs: ids and ISO dates in, a session scope of their own, safe to run twice.

Settings are built once per worker process by the entry point (`configure`), never at import;
the engine is built on first use in the process that runs the job, so a forked work horse
never shares a connection with its parent."""

from __future__ import annotations

import datetime as dt
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
from gateway.models import OutboxMessage
from gateway.providers.sms import SmsProvider, sms_provider
from gateway.queueing import enqueue_after_commit
from gateway.redis_conn import connect_redis
from gateway.services import notifications
from gateway.settings import Settings
from worker import registry

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


def run_daily_allocation(day_iso: str) -> int:
    """Allocate the credit of every household due on that day (allocation is idempotent)."""
    from gateway.services.allocation import allocate_due  # type: ignore[import-not-found,unused-ignore]

    day = dt.date.fromisoformat(day_iso)
    with context().session() as session:
        made = int(allocate_due(session, on=day))
    log.info("daily allocation on %s: %d allocations", day_iso, made)
    return made


def audit_ledger() -> int:
    """Check the ledger invariants and log one error per breach; read-only, so re-runnable."""
    from gateway.services.ledger import audit  # type: ignore[import-not-found,unused-ignore]

    with context().session() as session:
        breaches: list[str] = list(audit(session))
        session.rollback()
    for breach in breaches:
        log.error("ledger breach: %s", breach)
    log.info("ledger audit: %d breach(es)", len(breaches))
    return len(breaches)


def run_reminders(now_iso: str | None = None) -> int:
    """Campaign reminders due at `now_iso` (ISO datetime, UTC if naive) or the clock's now
    (D14-D17); returns how many were queued (every count is logged). The queued messages get
    their send jobs from the sms-dispatch sweeper."""
    from gateway.services.reminders import run_reminders as run

    ctx = context()
    if now_iso:
        now = dt.datetime.fromisoformat(now_iso)
        now = now if now.tzinfo else now.replace(tzinfo=dt.UTC)
    else:
        now = ctx.clock.now()
    with ctx.session() as session:
        counts = run(session, now).as_dict()
    log.info("reminders at %s: %s", now.isoformat(), counts)
    return counts["sent"]


class TransientSmsError(RuntimeError):
    """The provider refused a send for now; raising lets RQ retry with the job's backoff."""


def send_sms(message_id: str) -> str:
    """Send one outbox message and return its status (worker.sms_jobs.deliver: claimed
    QUEUED -> SENDING and committed before the provider is called, throttled, a message of a
    paused campaign left waiting). Only a QUEUED message is sent, so a second run, a second
    worker or a crash mid-call never sends it twice; an unknown outcome stays SENDING for
    the delivery reports to settle."""
    from worker.sms_jobs import deliver

    ctx = context()
    done = deliver(ctx, [int(message_id)])
    if int(message_id) not in done:
        with ctx.session() as session:
            found = session.get(OutboxMessage, int(message_id))
            status = found.status if found else "MISSING"
        log.info("sms %s not sent: %s", message_id, status)
        return status
    outcome, status = done[int(message_id)]
    log.info("sms %s: %s -> %s", message_id, outcome, status)
    if (outcome, status) == ("transient", "QUEUED"):
        raise TransientSmsError(f"sms {message_id}: transient error")
    return status


def send_sms_batch(ids_csv: str) -> int:
    """Job `send-sms-batch`: worker.sms_jobs.send_sms_batch (identical texts in one request)."""
    from worker.sms_jobs import send_sms_batch as send

    return send(ids_csv)


def enqueue_pending_sms(connection: redis.Redis[bytes], limit: int | None = None) -> list[str]:
    """Enqueue a send job for every QUEUED message (after their commit); sending is claimed
    per message, so enqueueing one twice is harmless. Returns the RQ job ids."""
    with context().session() as session:
        ids = notifications.pending_ids(session, limit)
    return [registry.enqueue(connection, "send-sms", str(i)).id for i in ids]


def dispatch_pending_sms() -> int:
    """Periodic safety net (architecture.md: the row is the record, a sweeper re-enqueues):
    every QUEUED message not held by a paused campaign gets a batch send job, even if the
    enqueue after its commit was lost; identical texts share one provider request."""
    from rq import get_current_job

    from worker.sms_jobs import enqueue_batches

    job = get_current_job()
    if job is None:
        raise RuntimeError("dispatch_pending_sms runs inside an RQ job")
    return len(enqueue_batches(job.connection))
