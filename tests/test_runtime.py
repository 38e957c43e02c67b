"""One Runtime per process (architecture.md): web, worker and CLI end with the same wiring (a
database connect timeout, Redis connect and read timeouts), a forked work horse builds its own
engine, and nothing but gateway.runtime builds an engine or a Redis client.

What "connect timeout" means per backend: PostgreSQL gets libpq's `connect_timeout`
(GATEWAY_DB_CONNECT_TIMEOUT); a SQLite file has no connect to wait for, so there the engine
carries the busy `timeout` (how long a connection waits for the write lock) instead. Both are
read from what the engine hands the driver, with the connect itself stopped, so both backends
are checked in either test mode."""

from __future__ import annotations

import ast
import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import redis
from rq import Queue, Worker
from rq.job import Job
from sqlalchemy import Engine, event, text

from gateway import handlers
from gateway.app import create_app
from gateway.cli import main
from gateway.cli.context import CliContext
from gateway.clock import FixedClock
from gateway.db import SQLITE_BUSY_TIMEOUT_S
from gateway.providers.payments.sandbox import SandboxProvider
from gateway.runtime import SERIAL_READS, Runtime
from gateway.services.payments import Initiation, PaymentRequest
from gateway.settings import Settings
from tests.support.redis_url import redis_url_of
from tests.support.source_scan import source_modules
from worker import jobs
from worker.main import run_worker

# --- nothing else builds an engine or a Redis client ----------------------------------------

# The runtime and the two helper modules it calls. migrations/ is not scanned (the scan covers
# gateway/ and worker/): Alembic's env.py migrates the URL gateway.migrate gives it, in a
# command or a test with no process runtime around it, so it builds its own engine there.
ALLOWED = frozenset({"gateway.runtime", "gateway.db", "gateway.redis_conn"})
BUILDERS = frozenset(
    {
        "create_engine",
        "create_async_engine",
        "engine_from_config",
        "make_engine",
        "connect_redis",
        "rq_client",
        "Redis",
        "StrictRedis",
        "from_url",
        "ConnectionPool",
    }
)


def _called(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else ""


def builders(modules: dict[str, Path]) -> list[str]:
    """Calls that build an engine or a Redis client outside the runtime (renamed imports of
    the builders are followed)."""
    problems = []
    for name, path in modules.items():
        if name in ALLOWED:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        renamed = {
            alias.asname: alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom)
            for alias in node.names
            if alias.asname
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                called = renamed.get(_called(node.func), _called(node.func))
                if called in BUILDERS:
                    problems.append(f"{name}:{node.lineno} calls {called}() (use gateway.runtime)")
    return sorted(problems)


def test_only_the_runtime_builds_engines_and_redis_clients() -> None:
    modules = source_modules()
    assert set(modules) >= ALLOWED
    assert builders(modules) == []


PLANTED = (
    "from sqlalchemy import create_engine\nengine = create_engine('sqlite://')\n",
    "from gateway.db import make_engine as build\nengine = build('sqlite://')\n",
    "import redis\nclient = redis.Redis.from_url('redis://127.0.0.1')\n",
    "import redis\n\ndef plain(c):\n    return redis.Redis(connection_pool=c.connection_pool)\n",
    "from gateway.redis_conn import connect_redis\n\ndef f(s):\n    return connect_redis(s)\n",
)


@pytest.mark.parametrize("source", PLANTED)
@pytest.mark.parametrize("name", ["worker.jobs.x", "gateway.providers.payments.x"])
def test_the_scan_catches_a_planted_builder(name: str, source: str, tmp_path: Path) -> None:
    planted = tmp_path / "planted.py"
    planted.write_text(source, encoding="utf-8")
    found = builders({**source_modules(), name: planted})
    assert found and all(problem.startswith(name + ":") for problem in found), found


# --- web, worker and CLI end with the same wiring -------------------------------------------

TIMEOUTS = {
    "GATEWAY_DB_CONNECT_TIMEOUT": "7",
    "GATEWAY_REDIS_CONNECT_TIMEOUT": "1.5",
    "GATEWAY_REDIS_TIMEOUT": "4",
}
DEAD_POSTGRES = "postgresql://nobody@127.0.0.1:1/none"


class _Stopped(Exception):
    """Raised in place of connecting: the parameters are all a test wants."""


def connect_params(engine: Engine) -> dict[str, Any]:
    """The timeouts the engine hands the driver on a new connection; never connects."""
    seen: dict[str, Any] = {}

    def record(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
        seen.update(cparams)
        raise _Stopped

    engine.dispose()  # no pooled connection: the next one is made, and seen
    event.listen(engine, "do_connect", record)
    try:
        with pytest.raises(_Stopped):
            engine.connect()
    finally:
        event.remove(engine, "do_connect", record)
    return {key: seen[key] for key in ("timeout", "connect_timeout", "options") if key in seen}


def redis_timeouts(client: redis.Redis[bytes]) -> tuple[float | None, float | None]:
    kwargs = client.connection_pool.connection_kwargs
    return kwargs.get("socket_connect_timeout"), kwargs.get("socket_timeout")


def expected_connect(backend: str) -> dict[str, Any]:
    if backend == "sqlite":
        return {"timeout": SQLITE_BUSY_TIMEOUT_S}
    return {"connect_timeout": 7}


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def wired_env(backend: str, redis_client: redis.Redis[bytes], tmp_path: Path) -> dict[str, str]:
    """An environment with non-default timeouts, on `backend` (never connected to) and the
    test Redis."""
    url = f"sqlite:///{tmp_path / 'db' / 'gateway.db'}" if backend == "sqlite" else DEAD_POSTGRES
    return {
        "DATABASE_URL": url,
        "REDIS_URL": redis_url_of(redis_client),
        "GATEWAY_VAR_DIR": str(tmp_path / "var"),
        "GATEWAY_ENV": "test",
        **TIMEOUTS,
    }


@pytest.fixture
def no_job_context(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker's context is a process global: restored after the test."""
    monkeypatch.setattr(jobs, "_context", None)


def test_the_web_app_holds_one_wired_runtime(wired_env: dict[str, str], backend: str) -> None:
    app = create_app(Settings.from_env(wired_env))
    runtime = app.extensions["gateway"]
    try:
        with app.app_context():
            assert handlers.runtime() is runtime
        serial = {"options": SERIAL_READS} if backend == "postgresql" else {}  # web only
        assert connect_params(runtime.engine) == expected_connect(backend) | serial
        assert redis_timeouts(runtime.redis) == (1.5, 4.0)
    finally:
        runtime.close()


@pytest.mark.usefixtures("no_job_context")
def test_the_job_context_is_a_wired_runtime(wired_env: dict[str, str], backend: str) -> None:
    context = jobs.configure(Settings.from_env(wired_env))
    try:
        assert isinstance(context, Runtime) and jobs.context() is context
        assert connect_params(context.engine) == expected_connect(backend)
        assert redis_timeouts(context.redis) == (1.5, 4.0)
    finally:
        context.close()


@pytest.mark.usefixtures("no_job_context")
def test_the_rq_connection_keeps_its_raised_read_timeout_to_itself(
    wired_env: dict[str, str],
) -> None:
    """RQ raises its connection's read timeout above its blocking dequeue's; the runtime's own
    client keeps the configured one (and both the connect timeout)."""
    context = jobs.configure(Settings.from_env(wired_env))
    try:
        connection = context.rq_redis()
        assert type(connection) is redis.Redis
        assert connection.connection_pool is not context.redis.connection_pool
        worker = Worker([Queue("default", connection=connection)], connection=connection)
        assert redis_timeouts(connection) == (1.5, worker.connection_timeout)
        assert redis_timeouts(context.redis) == (1.5, 4.0)
    finally:
        context.close()


def probe() -> dict[str, Any]:
    """Run as a job by a real worker: what the worker's runtime gives jobs."""
    context = jobs.context()
    return {
        "pid": os.getpid(),
        "connect": connect_params(context.engine),
        "job_redis": redis_timeouts(context.redis),
        "own_redis": redis_timeouts(super(jobs.JobContext, context).redis),
    }


@pytest.mark.usefixtures("no_job_context")
def test_the_worker_entry_point_runs_jobs_on_a_wired_runtime(
    wired_env: dict[str, str], backend: str, redis_client: redis.Redis[bytes]
) -> None:
    job = Queue("default", connection=redis_client).enqueue(probe)
    assert run_worker(Settings.from_env(wired_env), ["default"], burst=True)
    seen = Job.fetch(job.id, connection=redis_client).return_value()
    assert seen is not None and seen["pid"] == os.getpid(), "run in the worker (issue 19)"
    assert seen["connect"] == expected_connect(backend)
    assert seen["own_redis"] == (1.5, 4.0)
    connect_s, read_s = seen["job_redis"]  # the worker's: RQ raised its read timeout
    assert connect_s == 1.5 and read_s > 4.0


def test_the_cli_context_object_holds_a_wired_runtime(
    wired_env: dict[str, str], backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in wired_env.items():
        monkeypatch.setenv(name, value)
    click_ctx = click.Context(main)
    with click_ctx:
        assert main.callback is not None
        click_ctx.invoke(main.callback)  # what `gateway <command>` runs first
        obj = click_ctx.obj
        assert isinstance(obj, CliContext)
        assert connect_params(obj.engine) == expected_connect(backend)
        assert redis_timeouts(obj.redis) == (1.5, 4.0)
        assert obj.engine is obj.runtime.engine
    assert "runtime" in obj.__dict__ and obj.runtime._engine is None, "closed with the command"


# --- the runtime itself ---------------------------------------------------------------------


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    built = Runtime(settings, FixedClock())
    yield built
    built.close()


def _backend_pid(runtime: Runtime) -> Any:
    """The server process of the pooled connection (PostgreSQL), else the driver's object."""
    with runtime.session() as session:
        if runtime.engine.dialect.name == "postgresql":
            return session.execute(text("SELECT pg_backend_pid()")).scalar()
        return session.connection().connection.dbapi_connection


def test_a_forked_child_builds_its_own_engine_and_leaves_the_parents(runtime: Runtime) -> None:
    """As in an RQ work horse. On PostgreSQL the parent's connection is still the same server
    process afterwards (pre-ping would hide a connection the child had closed)."""
    engine = runtime.engine
    before = _backend_pid(runtime)
    child = os.fork()
    if child == 0:  # never return into pytest from here
        code = 1
        try:
            with runtime.session() as session:
                session.execute(text("SELECT 1"))
            code = 0 if runtime.engine is not engine else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the child used the parent's engine"
    assert runtime.engine is engine
    assert _backend_pid(runtime) == before


def test_close_releases_and_a_later_use_builds_anew(runtime: Runtime) -> None:
    engine, factory = runtime.engine, runtime.session_factory
    runtime.close()
    assert runtime.engine is not engine and runtime.session_factory is not factory
    with runtime.session() as session:
        assert session.execute(text("SELECT 1")).scalar() == 1


def test_providers_are_built_once_and_the_sandbox_uses_the_runtimes_sessions(
    runtime: Runtime,
) -> None:
    sandbox = runtime.payment_provider("sandbox")
    assert isinstance(sandbox, SandboxProvider)
    assert runtime.payment_provider("sandbox") is sandbox
    assert runtime.sms_provider() is runtime.sms_provider()
    with pytest.raises(ValueError, match="unknown payment provider"):
        runtime.payment_provider("nope")
    request = PaymentRequest("R-1", 500, "XOF", "+22670123412", "test", "http://127.0.0.1:9/cb")
    assert sandbox.initiate(request).outcome is Initiation.ACCEPTED
    with runtime.session() as session:
        created = session.execute(text("SELECT created_at FROM sandbox_requests")).scalar()
    assert str(created).startswith(str(runtime.clock.now().date())), "the runtime's clock"
    runtime.clock = FixedClock(dt.datetime(2027, 1, 1, tzinfo=dt.UTC))
    assert sandbox.clock is runtime.clock


@pytest.mark.postgres
def test_the_web_process_plans_without_parallel_workers(database_url: str) -> None:
    """The web app's connections (SERIAL_READS, set at connect: no SET per request); the
    worker's and the commands' keep the server's default."""
    settings = Settings.from_env({"DATABASE_URL": database_url})
    setting = text("SHOW max_parallel_workers_per_gather")
    web, other = Runtime(settings, serial_reads=True), Runtime(settings)
    try:
        with web.engine.connect() as conn:
            assert conn.scalar(setting) == "0"
        with other.engine.connect() as conn:
            assert conn.scalar(setting) != "0"
    finally:
        web.engine.dispose()
        other.engine.dispose()
