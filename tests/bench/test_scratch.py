"""Issue 19: the benchmarks destroy nothing they did not create. A benchmark's PostgreSQL
database is `bench_<name>_<pid>`, created through the admin URL, migrated and dropped at the end
(also on an error or Ctrl-C); an explicit BENCH_DATABASE_URL is refused unless it names an empty
`bench_*` database; its Redis is a private redis-server, never the one in REDIS_URL."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from bench import bench_import, scratch
from gateway import migrate
from gateway.db import make_engine
from tests.support.paths import ROOT

CANARY = "bench_scratch_canary"


@pytest.fixture
def admin(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """BENCH_PG_ADMIN_URL on the test's server; no BENCH_DATABASE_URL."""
    url = make_url(database_url).set(database="postgres").render_as_string(hide_password=False)
    monkeypatch.setenv("BENCH_PG_ADMIN_URL", url)
    monkeypatch.delenv("BENCH_DATABASE_URL", raising=False)
    return url


@pytest.fixture
def canary(engine: Engine) -> Iterator[Engine]:
    """A table of the test's own database, outside the gateway's schema, with one row."""
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE {CANARY} (note TEXT)"))
        conn.execute(text(f"INSERT INTO {CANARY} VALUES ('still here')"))
    yield engine
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE IF EXISTS {CANARY}"))


def canary_row(engine: Engine) -> str | None:
    with engine.connect() as conn:
        note: str | None = conn.scalar(text(f"SELECT note FROM {CANARY}"))
    return note


def exists(admin: str, name: str) -> bool:
    engine = make_engine(admin)
    try:
        with engine.connect() as conn:
            found = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
    finally:
        engine.dispose()
    return bool(found == 1)


def tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            query = "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            return set(conn.scalars(text(query)))
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_database_of_its_own_is_created_migrated_and_dropped(
    admin: str, canary: Engine, database_url: str
) -> None:
    name = f"bench_probe_{os.getpid()}"
    with scratch.database("probe") as url:
        assert make_url(url).database == name
        assert url.startswith("postgresql+psycopg://")
        assert exists(admin, name)
        assert "alembic_version" in tables(url) and "households" in tables(url)
        assert make_url(url).database != make_url(database_url).database
    assert not exists(admin, name)
    assert canary_row(canary) == "still here"
    assert exists(admin, make_url(database_url).database or "")


@pytest.mark.postgres
def test_the_database_is_dropped_on_an_error_and_on_ctrl_c(admin: str, canary: Engine) -> None:
    name = f"bench_probe_{os.getpid()}"
    for interruption in (RuntimeError("the benchmark failed"), KeyboardInterrupt()):
        with pytest.raises(type(interruption)), scratch.database("probe", migrated=False):
            assert exists(admin, name)
            raise interruption
        assert not exists(admin, name)
    assert canary_row(canary) == "still here"


@pytest.mark.postgres
def test_an_existing_database_is_never_dropped_to_be_created_again(
    admin: str, canary: Engine
) -> None:
    name = f"bench_probe_{os.getpid()}"
    with scratch.created(name, scratch.admin_url()) as url:
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE kept (n INTEGER)"))
        engine.dispose()
        again = scratch.created(name, scratch.admin_url())
        with pytest.raises(scratch.Unavailable, match="already exists"), again:
            pass  # pragma: no cover - CREATE fails first
        assert tables(url) == {"kept"}
    assert not exists(admin, name)


@pytest.mark.parametrize(
    "given",
    [
        "postgresql://root@127.0.0.1:5432/postgres",
        "postgres://root@127.0.0.1:5432/gateway",
        "postgresql+psycopg://root@127.0.0.1:1/test",
        "sqlite:////tmp/bench_gateway.db",
        'postgresql://root@127.0.0.1:1/bench_x"; DROP DATABASE test; --',
    ],
)
def test_an_explicit_database_not_named_bench_is_refused_before_any_connection(
    given: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Port 1 has no server: the refusal comes from the name, before anything is touched."""
    monkeypatch.setenv("BENCH_DATABASE_URL", given)
    with pytest.raises(SystemExit) as refused, scratch.database("probe"):
        pass  # pragma: no cover - refused first
    reason = str(refused.value.code)
    assert reason.startswith("refusing BENCH_DATABASE_URL") and "bench_*" in reason
    assert "\n" not in reason


def test_an_explicit_bench_database_is_taken_as_given() -> None:
    env = {"BENCH_DATABASE_URL": "postgres://root@db:5432/bench_mine"}
    assert scratch.explicit_url(env) == "postgresql+psycopg://root@db:5432/bench_mine"
    assert scratch.explicit_url({}) is None


@pytest.mark.postgres
def test_an_explicit_bench_database_must_be_empty_and_is_left_in_place(
    admin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"bench_mine_{os.getpid()}"
    with scratch.created(name, scratch.admin_url()) as url:
        monkeypatch.setenv("BENCH_DATABASE_URL", url)
        with scratch.database("probe") as given:
            assert given == url and "households" in tables(url)
        assert exists(admin, name) and "households" in tables(url)  # not dropped: not ours
        with pytest.raises(SystemExit, match="already holds"), scratch.database("probe"):
            pass  # pragma: no cover - refused first
        assert "households" in tables(url)
        monkeypatch.delenv("BENCH_DATABASE_URL")
    assert not exists(admin, name)


@pytest.mark.postgres
def test_bench_import_refuses_the_test_database_and_leaves_it_whole(
    admin: str, canary: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The benchmark used to drop the public schema of BENCH_DATABASE_URL, whatever it was."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("BENCH_DATABASE_URL", database_url)
    with pytest.raises(SystemExit, match="not named bench_"):
        bench_import.main(["--rows", "40"])
    assert canary_row(canary) == "still here"
    assert migrate.current_revision(canary) == migrate.head_revision(database_url)


@pytest.mark.postgres
def test_bench_import_runs_on_its_own_database_and_drops_it(
    admin: str,
    canary: Engine,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert bench_import.main(["--rows", "40"]) == 0
    out = capsys.readouterr().out
    assert "postgresql import" in out and "ratio" in out.split("postgresql")[-1]
    assert not exists(admin, f"bench_import_{os.getpid()}")
    assert canary_row(canary) == "still here"


def test_the_private_redis_is_another_server_started_empty_and_stopped(
    redis_client: redis.Redis[bytes],
) -> None:
    """Not the suite's Redis (REDIS_URL's server, or the embedded one): its own process, whose
    data dies with it; the suite's keys are never flushed."""
    redis_client.set("bench:canary", b"still here")
    theirs = redis_client.info("server")
    with scratch.redis_server() as url:
        private = redis.Redis.from_url(url)
        ours = private.info("server")
        assert (ours["run_id"], ours["process_id"]) != (theirs["run_id"], theirs["process_id"])
        assert private.dbsize() == 0
        private.set("bench:key", b"1")
        private.close()
    assert redis_client.get("bench:canary") == b"still here"
    assert redis_client.get("bench:key") is None
    gone = redis.Redis.from_url(url, socket_connect_timeout=1)
    with pytest.raises(redis.ConnectionError):
        gone.ping()
    gone.close()


def test_no_benchmark_drops_a_schema_or_flushes_a_redis() -> None:
    """Only bench/scratch.py creates and drops databases, and only those it created."""
    for path in sorted((ROOT / "bench").glob("*.py")):
        source = path.read_text(encoding="utf-8")
        assert "DROP SCHEMA" not in source, path.name
        assert ".flushdb(" not in source and ".flushall(" not in source, path.name
        if path.name != "scratch.py":
            assert "DROP DATABASE" not in source and "CREATE DATABASE" not in source, path.name
