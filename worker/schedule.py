"""The one scheduling module: a table of periodic jobs and a small loop that enqueues them.

Each occurrence (a day, an hour...) is claimed with Redis SET NX under a key that expires
after a few periods, and enqueued under a deterministic job id, so any number of schedulers
(workers, restarts) enqueue every occurrence once. Jobs are idempotent anyway."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import redis

from gateway.clock import Clock
from worker import registry

log = logging.getLogger(__name__)
KEY_PREFIX = "gateway:schedule"
DAY_S = 86_400
TICK_S = 15.0


@dataclass(frozen=True)
class Periodic:
    """A job (registry name) run every `every_s` seconds, or daily at `daily_at` UTC.

    `with_day` passes the occurrence's date (ISO) as the job's only argument."""

    job: str
    every_s: int | None = None
    daily_at: dt.time | None = None
    with_day: bool = False

    def __post_init__(self) -> None:
        if (self.every_s is None) == (self.daily_at is None):
            raise ValueError(f"{self.job}: give exactly one of every_s or daily_at")
        if self.every_s is not None and self.every_s <= 0:
            raise ValueError(f"{self.job}: every_s must be positive")

    @property
    def period_s(self) -> int:
        return self.every_s or DAY_S

    def latest(self, now: dt.datetime) -> dt.datetime:
        """The most recent occurrence at or before `now` (UTC)."""
        now = now.astimezone(dt.UTC)
        if self.daily_at is not None:
            today = dt.datetime.combine(now.date(), self.daily_at, tzinfo=dt.UTC)
            return today if today <= now else today - dt.timedelta(days=1)
        epoch = int(now.timestamp())
        return dt.datetime.fromtimestamp(epoch - epoch % self.period_s, dt.UTC)

    def stamp(self, at: dt.datetime) -> str:
        """The occurrence's name: a date, or a date and hour (minutes, seconds if needed)."""
        if self.daily_at is not None:
            return at.date().isoformat()
        if self.period_s % 3600 == 0:
            return at.strftime("%Y-%m-%dT%H")
        if self.period_s % 60 == 0:
            return at.strftime("%Y-%m-%dT%H%M")
        return at.strftime("%Y-%m-%dT%H%M%S")

    def args(self, at: dt.datetime) -> tuple[str, ...]:
        return (at.date().isoformat(),) if self.with_day else ()


SCHEDULE: tuple[Periodic, ...] = (
    Periodic("daily-allocation", daily_at=dt.time(0, 15), with_day=True),
    Periodic("ledger-audit", every_s=3600),
    Periodic("sms-dispatch", every_s=60),
    Periodic("run-reminders", every_s=300),
    Periodic("coverage-starts", every_s=3600),
    Periodic("agent-cash-age", daily_at=dt.time(6, 0)),
    Periodic("sweep-payments", every_s=60),
)


def occurrence_key(name: str, stamp: str) -> str:
    """The key that claims one occurrence: gateway:schedule:ledger-audit:2026-11-24T10."""
    return f"{KEY_PREFIX}:{name}:{stamp}"


def job_id(name: str, stamp: str) -> str:
    """RQ job ids allow letters, digits, '_' and '-' only: daily-allocation-2026-11-24."""
    return f"{name}-{stamp}".replace(":", "-")


class Scheduler:
    """Enqueues due occurrences of `table`; several instances may run at once."""

    def __init__(
        self,
        connection: redis.Redis[bytes],
        table: Sequence[Periodic] = SCHEDULE,
        clock: Clock | None = None,
    ) -> None:
        self.connection = connection
        self.table = tuple(table)
        self.clock = clock or Clock()

    def tick(self) -> list[str]:
        """Enqueue every latest occurrence not yet claimed; returns the ids enqueued here."""
        now = self.clock.now()
        return [jid for entry in self.table if (jid := self._fire(entry, now))]

    def _fire(self, entry: Periodic, now: dt.datetime) -> str | None:
        at = entry.latest(now)
        stamp = entry.stamp(at)
        key = occurrence_key(entry.job, stamp)
        ttl = max(3 * entry.period_s, DAY_S)
        if not self.connection.set(key, job_id(entry.job, stamp), nx=True, ex=ttl):
            return None
        try:
            job = registry.enqueue(
                self.connection, entry.job, *entry.args(at), job_id=job_id(entry.job, stamp)
            )
        except Exception:
            self.connection.delete(key)  # let the next tick (here or elsewhere) try again
            raise
        log.info("scheduled %s", job.id)
        return job.id

    def run(self, stop: threading.Event, interval_s: float = TICK_S) -> None:
        """Tick until `stop` is set; a failing tick (Redis away) is logged, not fatal."""
        while not stop.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("scheduler tick failed")
            stop.wait(interval_s)

    def start_thread(self, stop: threading.Event, interval_s: float = TICK_S) -> threading.Thread:
        thread = threading.Thread(
            target=self.run, args=(stop, interval_s), name="gateway-scheduler", daemon=True
        )
        thread.start()
        return thread
