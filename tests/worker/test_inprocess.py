"""The in-process worker of `gateway worker` (issue 19): jobs run in the worker's own process
and keep its engine, yet a hung job is still stopped at its timeout and retried by its policy,
a job's session or broken connection never reaches the next job, and the worker makes way for
a fresh process past a memory or job-count limit."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from click.testing import CliRunner
from rq import Queue, Retry
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, StartedJobRegistry
from sqlalchemy import text
from sqlalchemy.orm import Session

from gateway.cli import main as gateway_cli
from gateway.models import Alert
from gateway.settings import Settings
from tests.support.paths import ROOT
from tests.support.redis_url import redis_url_of
from tests.support.worker_processes import wait_until_working, worker_env
from worker import inprocess, jobs, main
from worker.inprocess import RECYCLE_EXIT, InProcessWorker, JobKilled, Limits, rss_mb

QUEUE = "default"
LEFT_OPEN: list[Session] = []  # keeps a leaked session alive, as a careless job would


@pytest.fixture
def job_settings(
    database_url: str, redis_client: redis.Redis[bytes], tmp_path: Path
) -> Iterator[Settings]:
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
    LEFT_OPEN.clear()
    jobs.context().close()


# --- jobs run by the tests (importable by the worker) ----------------------------------------


def hang(seconds: float = 60.0) -> str:
    time.sleep(seconds)
    return "woke"


def swallow(seconds: float = 60.0) -> str:
    """A job whose broad `except Exception` swallows its timeout exception."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            time.sleep(0.05)
        except Exception:
            continue
    return "survived"


def quick() -> str:
    return "done"


def write_alert(key: str) -> int:
    """Writes a row in a session of the jobs' runtime; returns the alerts seen."""
    with jobs.context().session() as session:
        session.add(Alert(kind="test", subject=key, detail=key, dedupe_key=key))
        session.flush()
        return len(session.query(Alert).all())


def leave_session_open(key: str) -> None:
    session = jobs.context().session_factory()
    session.add(Alert(kind="test", subject=key, detail=key, dedupe_key=key))
    session.flush()
    LEFT_OPEN.append(session)


def break_connection() -> None:
    """The job's database connection dies under it (a server restart, a killed backend)."""
    with jobs.context().session() as session:
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        else:
            connection.connection.dbapi_connection.close()  # type: ignore[union-attr]
        session.execute(text("SELECT 1"))


def grow(megabytes: int) -> int:
    global BALLAST
    BALLAST = bytearray(megabytes * 2**20)
    return len(BALLAST)


BALLAST = bytearray()


# --- helpers ----------------------------------------------------------------------------------


def enqueue(connection: redis.Redis[bytes], func: Any, *args: Any, **kwargs: Any) -> Job:
    return Queue(QUEUE, connection=connection).enqueue(func, *args, **kwargs)


def worker(connection: redis.Redis[bytes], **kwargs: Any) -> InProcessWorker:
    return InProcessWorker(
        [Queue(QUEUE, connection=connection)],
        connection=connection,
        after_job=jobs.context().after_job,
        **kwargs,
    )


# --- timeouts ---------------------------------------------------------------------------------


def test_a_hung_job_is_stopped_at_its_timeout_retried_by_its_policy_and_the_worker_goes_on(
    job_settings: Settings, redis_client: redis.Redis[bytes]
) -> None:
    retried = enqueue(redis_client, hang, job_timeout=1, retry=Retry(max=1, interval=[60]))
    final = enqueue(redis_client, hang, job_timeout=1)
    after = enqueue(redis_client, quick)
    started = time.monotonic()
    assert worker(redis_client).work(burst=True)
    assert time.monotonic() - started < 10  # not the 60 s each hang asked for
    assert retried.get_status(refresh=True) == JobStatus.SCHEDULED  # its retry, in 60 s
    assert final.get_status(refresh=True) == JobStatus.FAILED
    assert final.id in FailedJobRegistry(QUEUE, connection=redis_client).get_job_ids()
    assert "JobTimeoutException" in (final.latest_result().exc_string or "")  # type: ignore[union-attr]
    assert after.get_status(refresh=True) == JobStatus.FINISHED
    assert after.return_value() == "done"


def test_a_job_that_swallows_its_timeout_is_killed_after_a_grace(
    job_settings: Settings, redis_client: redis.Redis[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inprocess, "TIMEOUT_GRACE_S", 1)
    job = enqueue(redis_client, swallow, job_timeout=1)
    after = enqueue(redis_client, quick)
    assert worker(redis_client).work(burst=True)
    assert job.get_status(refresh=True) == JobStatus.FAILED
    assert JobKilled.__name__ in (job.latest_result().exc_string or "")  # type: ignore[union-attr]
    assert after.get_status(refresh=True) == JobStatus.FINISHED


def test_a_running_jobs_heartbeat_is_renewed_and_gone_once_it_ends(
    job_settings: Settings, redis_client: redis.Redis[bytes]
) -> None:
    job = enqueue(redis_client, hang, 2.5, job_timeout=30)
    w = worker(redis_client, job_monitoring_interval=1)
    started = StartedJobRegistry(QUEUE, connection=redis_client)
    seen: list[float] = []
    original = w.maintain_heartbeats

    def beat(*args: Any) -> None:
        original(*args)
        seen.extend(score for _, score in redis_client.zrange(started.key, 0, -1, withscores=True))

    w.maintain_heartbeats = beat  # type: ignore[method-assign,assignment]
    assert w.work(burst=True)
    assert len(seen) >= 2  # beats while the job ran
    assert all(score > time.time() - 5 for score in seen)
    assert job.get_status(refresh=True) == JobStatus.FINISHED
    assert redis_client.zcard(started.key) == 0  # no late beat put it back


# --- hygiene ------------------------------------------------------------------------------------


def test_a_session_left_open_by_a_job_is_closed_before_the_next(
    job_settings: Settings, redis_client: redis.Redis[bytes], db: Session
) -> None:
    db.rollback()
    enqueue(redis_client, leave_session_open, "leaked", job_timeout=20)
    second = enqueue(redis_client, write_alert, "next", job_timeout=20)
    assert worker(redis_client).work(burst=True)
    assert second.get_status(refresh=True) == JobStatus.FINISHED  # not blocked by the first
    assert second.return_value() == 1  # the leaked job's row was rolled back, not committed
    assert not LEFT_OPEN[0].in_transaction()
    db.expire_all()
    assert [a.dedupe_key for a in db.query(Alert).all()] == ["next"]


def test_a_broken_connection_does_not_poison_the_next_job(
    job_settings: Settings, redis_client: redis.Redis[bytes], db: Session
) -> None:
    db.rollback()
    broken = enqueue(redis_client, break_connection)
    after = [enqueue(redis_client, write_alert, f"after-{n}") for n in range(3)]
    assert worker(redis_client).work(burst=True)
    assert broken.get_status(refresh=True) == JobStatus.FAILED
    assert [job.get_status(refresh=True) for job in after] == [JobStatus.FINISHED] * 3


def test_after_job_drops_a_connection_left_checked_out(job_settings: Settings) -> None:
    context = jobs.context()
    held = context.engine.connect()
    pool = context.engine.pool
    context.after_job(None)
    assert context.engine.pool is not pool  # a fresh pool for the next job
    held.close()
    pool.dispose()  # the test's own leak: closed here


# --- limits -------------------------------------------------------------------------------------


def test_the_worker_stops_after_its_job_limit(
    job_settings: Settings, redis_client: redis.Redis[bytes]
) -> None:
    done = [enqueue(redis_client, quick) for _ in range(3)]
    w = worker(redis_client, limits=Limits(max_jobs=2))
    assert w.work(burst=True)
    assert w.recycle and w.stop_requested
    statuses = [job.get_status(refresh=True) for job in done]
    assert statuses == [JobStatus.FINISHED, JobStatus.FINISHED, JobStatus.QUEUED]


def test_the_worker_stops_after_the_job_that_passes_its_memory_limit(
    job_settings: Settings, redis_client: redis.Redis[bytes]
) -> None:
    limit = int(rss_mb()) + 40
    first = enqueue(redis_client, quick)
    big = enqueue(redis_client, grow, 80)
    left = enqueue(redis_client, quick)
    w = worker(redis_client, limits=Limits(max_rss_mb=limit))
    try:
        assert w.work(burst=True)
    finally:
        grow(0)
    assert w.recycle
    assert first.get_status(refresh=True) == big.get_status(refresh=True) == JobStatus.FINISHED
    assert left.get_status(refresh=True) == JobStatus.QUEUED  # for the fresh process


def test_run_worker_reports_a_recycle_and_the_command_exits_75(
    job_settings: Settings,
    redis_client: redis.Redis[bytes],
    database_url: str,
    tmp_path: Path,
    db: Session,
) -> None:
    db.rollback()
    for _ in range(2):
        enqueue(redis_client, quick)
    outcome = main.run_worker(job_settings, [QUEUE], burst=True)
    assert outcome and not outcome.recycle
    enqueue(redis_client, quick)
    enqueue(redis_client, quick)
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url_of(redis_client),
        "GATEWAY_VAR_DIR": str(tmp_path / "var"),
        "GATEWAY_ENV": "test",
        "GATEWAY_WORKER_MAX_JOBS": "1",
    }
    result = CliRunner().invoke(gateway_cli, ["worker", "--burst", "-q", QUEUE], env=env)
    assert result.exit_code == RECYCLE_EXIT, result.output
    assert len(Queue(QUEUE, connection=redis_client)) == 1  # one job done, one left


def test_limits_come_from_the_environment() -> None:
    settings = Settings.from_env(
        {"GATEWAY_WORKER_MAX_RSS_MB": "300", "GATEWAY_WORKER_MAX_JOBS": "1000"}
    )
    assert (settings.worker_max_rss_mb, settings.worker_max_jobs) == (300, 1000)
    assert Settings.from_env({}).worker_max_rss_mb == 1024
    with pytest.raises(Exception, match="GATEWAY_WORKER_MAX_JOBS must be 0"):
        Settings.from_env({"GATEWAY_WORKER_MAX_JOBS": "-1"})


# --- a real process -------------------------------------------------------------------------


def test_sigterm_lets_the_running_job_finish_then_the_worker_exits(
    database_url: str, redis_client: redis.Redis[bytes], tmp_path: Path
) -> None:
    """Warm shutdown in the in-process worker: the job in hand runs to its end."""
    env = worker_env(database_url, redis_client, tmp_path)
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway", "worker", "-q", QUEUE],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_until_working(proc, redis_client, log)
        job = enqueue(redis_client, "tests.worker.test_inprocess.hang", 3.0, job_timeout=60)
        deadline = time.monotonic() + 30
        while job.get_status(refresh=True) != JobStatus.STARTED:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert job.get_status(refresh=True) == JobStatus.FINISHED, log.read_text()
    assert job.return_value() == "woke"
    assert "warm shut down requested" in log.read_text()
