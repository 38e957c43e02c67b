"""The scheduler enqueues each occurrence once, even from two schedulers at once; jobs run in
RQ workers against the test Redis and database, and carry their retry policies."""

from __future__ import annotations

import datetime as dt
import importlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner
from redis.client import PubSubWorkerThread
from rq import Queue
from rq.exceptions import StopRequested
from rq.job import Job, JobStatus, validate_job_id

from gateway.cli import main as gateway_cli
from gateway.clock import FixedClock
from gateway.settings import Settings
from tests.support.redis_url import redis_url_of
from worker import jobs, registry
from worker import main as worker_main
from worker.main import check_queues, run_worker, wait_for_redis
from worker.rq_workers import SimpleWorker
from worker.schedule import SCHEDULE, WORKER_TTL_S, Periodic, Scheduler, job_id, occurrence_key

NOW = dt.datetime(2026, 11, 24, 10, 20, tzinfo=dt.UTC)


@pytest.fixture
def fixed_clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def job_settings(
    database_url: str, redis_client: redis.Redis[bytes], tmp_path: Path
) -> Iterator[Settings]:
    """Settings on the test database and Redis, installed as the jobs' context."""
    settings = Settings.from_env(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url_of(redis_client),
            "GATEWAY_VAR_DIR": str(tmp_path / "var"),
            "GATEWAY_ENV": "test",
        }
    )
    jobs.configure(settings)
    yield settings
    jobs.context().close()


def queued_ids(connection: redis.Redis[bytes]) -> list[str]:
    return [jid for name in registry.QUEUES for jid in Queue(name, connection=connection).job_ids]


def test_occurrences_are_named_by_day_or_hour() -> None:
    daily = Periodic("daily-allocation", daily_at=dt.time(0, 15), with_day=True)
    assert daily.latest(NOW) == dt.datetime(2026, 11, 24, 0, 15, tzinfo=dt.UTC)
    assert daily.latest(NOW.replace(hour=0, minute=5)).date() == dt.date(2026, 11, 23)
    assert daily.stamp(daily.latest(NOW)) == "2026-11-24"
    assert daily.args(daily.latest(NOW)) == ("2026-11-24",)
    hourly = Periodic("ledger-audit", every_s=3600)
    assert hourly.stamp(hourly.latest(NOW)) == "2026-11-24T10"
    assert Periodic("x", every_s=300).stamp(NOW) == "2026-11-24T1020"
    assert occurrence_key("ledger-audit", "2026-11-24T10") == (
        "gateway:schedule:ledger-audit:2026-11-24T10"
    )
    for entry in SCHEDULE:
        validate_job_id(job_id(entry.job, entry.stamp(entry.latest(NOW))))
        assert entry.job in registry.JOBS
    with pytest.raises(ValueError):
        Periodic("both", every_s=60, daily_at=dt.time(1))


# The daily and hourly entries of the schedule (the minute-by-minute SMS dispatch would add
# an occurrence at every step of these tests).
HOURLY_AND_DAILY = tuple(p for p in SCHEDULE if p.job in ("daily-allocation", "coverage-starts"))


def test_two_schedulers_ticking_at_once_enqueue_each_occurrence_once(
    redis_client: redis.Redis[bytes], fixed_clock: FixedClock
) -> None:
    schedulers = [Scheduler(redis_client, HOURLY_AND_DAILY, clock=fixed_clock) for _ in range(2)]
    barrier = threading.Barrier(len(schedulers))
    results: list[list[str]] = []

    def tick(scheduler: Scheduler) -> None:
        for _ in range(5):
            barrier.wait()
            results.append(scheduler.tick())

    threads = [threading.Thread(target=tick, args=(s,)) for s in schedulers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    enqueued = [jid for batch in results for jid in batch]
    expected = {"daily-allocation-2026-11-24", "coverage-starts-2026-11-24T10"}
    assert sorted(enqueued) == sorted(expected)
    assert sorted(queued_ids(redis_client)) == sorted(expected)


def test_the_next_occurrence_is_enqueued_when_it_comes(
    redis_client: redis.Redis[bytes], fixed_clock: FixedClock
) -> None:
    scheduler = Scheduler(redis_client, HOURLY_AND_DAILY, clock=fixed_clock)
    assert len(scheduler.tick()) == 2
    fixed_clock.advance(minutes=30)
    assert scheduler.tick() == []
    fixed_clock.advance(minutes=30)
    assert scheduler.tick() == ["coverage-starts-2026-11-24T11"]
    fixed_clock.advance(hours=14)
    assert set(scheduler.tick()) == {
        "daily-allocation-2026-11-25",
        "coverage-starts-2026-11-25T01",
    }


def test_a_failed_enqueue_releases_the_claim(
    redis_client: redis.Redis[bytes], fixed_clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = [Periodic("ledger-audit", every_s=3600)]
    scheduler = Scheduler(redis_client, table, clock=fixed_clock)
    real_enqueue = registry.enqueue

    def broken(*args: object, **kwargs: object) -> Job:
        raise redis.ConnectionError("queue unavailable")

    monkeypatch.setattr(registry, "enqueue", broken)
    with pytest.raises(redis.ConnectionError):
        scheduler.tick()
    assert not redis_client.exists(occurrence_key("ledger-audit", "2026-11-24T10"))
    monkeypatch.setattr(registry, "enqueue", real_enqueue)
    assert scheduler.tick() == ["ledger-audit-2026-11-24T10"]


def test_the_scheduler_loop_survives_a_failing_tick(redis_client: redis.Redis[bytes]) -> None:
    class Flaky(Scheduler):
        calls = 0

        def tick(self) -> list[str]:
            self.calls += 1
            if self.calls == 1:
                raise redis.ConnectionError("down")
            stop.set()
            return []

    stop = threading.Event()
    flaky = Flaky(redis_client)
    flaky.start_thread(stop, interval_s=0.01).join(timeout=10)
    assert flaky.calls == 2


def test_jobs_carry_their_queue_and_retry_policy(redis_client: redis.Redis[bytes]) -> None:
    for name, spec in registry.JOBS.items():
        job = registry.enqueue(redis_client, name, job_id=f"policy-{name}")
        assert job.origin == spec.queue in registry.QUEUES
        assert job.retries_left == spec.retries >= 1
        assert job.retry_intervals == list(spec.intervals)
        assert job.func_name == spec.path
        module, _, func = spec.path.rpartition(".")
        assert module.startswith("worker.")
        assert callable(getattr(importlib.import_module(module), func))


def test_scheduled_jobs_run_in_a_simple_worker(
    redis_client: redis.Redis[bytes], fixed_clock: FixedClock, job_settings: Settings
) -> None:
    enqueued = Scheduler(redis_client, clock=fixed_clock).tick()
    queues = [Queue(name, connection=redis_client) for name in registry.QUEUES]
    assert SimpleWorker(queues, connection=redis_client).work(burst=True)
    for jid in enqueued:
        job = Job.fetch(jid, connection=redis_client)
        assert job.get_status() == JobStatus.FINISHED, job.latest_result()
        assert job.return_value() == 0  # an empty database: nothing to allocate, no breach


def test_run_worker_in_burst_mode_runs_what_is_queued(
    redis_client: redis.Redis[bytes], job_settings: Settings
) -> None:
    job = registry.enqueue(redis_client, "daily-allocation", "2026-11-24", job_id="burst-1")
    assert run_worker(job_settings, ["default"], burst=True)
    assert job.get_status(refresh=True) == JobStatus.FINISHED
    assert job.return_value() == 0


def test_a_burst_ends_without_waiting_on_the_pubsub_thread(
    redis_client: redis.Redis[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The interleaving that made RQ 3 + redis-py 8 wait 60 s at a worker's teardown, made
    certain: the pubsub thread is asked to stop late (see worker/rq_workers.py)."""
    stop = PubSubWorkerThread.stop
    stopped: list[PubSubWorkerThread] = []

    def late_stop(self: PubSubWorkerThread, *args: object, **kwargs: object) -> None:
        stopped.append(self)
        time.sleep(0.5)
        stop(self, *args, **kwargs)

    monkeypatch.setattr(PubSubWorkerThread, "stop", late_stop)
    started = time.monotonic()
    SimpleWorker([Queue("default", connection=redis_client)], connection=redis_client).work(
        burst=True
    )
    assert time.monotonic() - started < 15  # a bound on the hang, not a performance target
    assert len(stopped) == 1 and not stopped[0].is_alive()


def test_queue_names_are_checked() -> None:
    assert check_queues([]) == registry.QUEUES
    assert check_queues(["sms", "sms", "default"]) == ("sms", "default")
    with pytest.raises(ValueError, match="nope"):
        check_queues(["nope"])
    answer = CliRunner().invoke(gateway_cli, ["worker", "--queues", "sms,nope", "--burst"])
    assert answer.exit_code == 2
    assert "unknown queue(s) nope" in answer.output


def test_a_busy_payments_queue_does_not_starve_sms(
    redis_client: redis.Redis[bytes], job_settings: Settings
) -> None:
    """Issue 15: the worker takes its queues in turn (RQ's round robin), so an SMS waits for
    one payment job, not for the whole payments backlog (queue order would run it last)."""
    payments = Queue(registry.PAYMENTS, connection=redis_client)
    backlog = [payments.enqueue("builtins.len", "x" * n) for n in range(1, 5)]
    sms = Queue(registry.SMS, connection=redis_client).enqueue("builtins.len", "sms")
    assert run_worker(job_settings, [registry.PAYMENTS, registry.SMS], burst=True)
    for job in [*backlog, sms]:
        job.refresh()  # type: ignore[no-untyped-call]
    ends = {job.id: job.ended_at for job in [*backlog, sms]}
    assert None not in ends.values()
    ended = sorted([*backlog, sms], key=lambda job: str(ends[job.id]))
    assert [job.id for job in ended].index(sms.id) <= 1, [job.origin for job in ended]


class FlakyRedis:
    """A connection whose ping fails `down` times (Redis restarting), then answers; or raises
    `stop` (RQ's handler of a SIGTERM) on its first ping."""

    def __init__(self, down: int, stop: bool = False) -> None:
        self.down, self.stop, self.pings = down, stop, 0

    def ping(self) -> bool:
        self.pings += 1
        if self.stop:
            raise StopRequested()
        if self.pings <= self.down:
            raise redis.ConnectionError("Connection refused")
        return True


def test_a_worker_that_lost_redis_waits_for_it_then_resumes() -> None:
    """Issue 15: RQ's loop quits when Redis goes; `gateway worker` exited 0 and systemd's
    Restart=on-failure left it dead. It now waits for Redis (tests/faults/test_redis_kill.py
    kills a real one), unless told to stop meanwhile."""
    flaky = FlakyRedis(down=2)
    assert wait_for_redis(flaky, probe_s=0.01) is True  # type: ignore[arg-type]
    assert flaky.pings == 3
    stopping = FlakyRedis(down=0, stop=True)
    assert wait_for_redis(stopping, probe_s=0.01) is False  # type: ignore[arg-type]


def test_the_scheduler_thread_starts_after_the_worker_raised_the_read_timeout(
    job_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RQ raises its pool's read timeout above its blocking dequeue's when the worker is
    built; a connection the scheduler thread opened before kept the 5 s one, and an idle
    worker's dequeues timed out and backed off up to a minute (found by tests/faults/)."""
    seen: list[float] = []

    def start_thread(self: Scheduler, stop: threading.Event) -> None:
        seen.append(self.connection.connection_pool.connection_kwargs["socket_timeout"])

    monkeypatch.setattr(Scheduler, "start_thread", start_thread)
    monkeypatch.setattr(worker_main, "_work", lambda worker, burst: False)
    monkeypatch.setattr(worker_main, "wait_for_redis", lambda connection: False)
    assert not run_worker(job_settings, ["default"])
    assert seen and seen[0] > WORKER_TTL_S - 15  # RQ's dequeue timeout
