"""Engine and sessions: one session per request, a scope helper for jobs and commands.

The helpers of gateway.runtime, which alone builds the engine of a process (migrations and
benchmarks build their own)."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_S = 30


def make_engine(database_url: str, connect_timeout_s: int | None = None, **kwargs: Any) -> Engine:
    """Build the engine; SQLite gets WAL, foreign keys and a busy timeout so that the
    web process, the worker and commands can share one embedded file. `connect_timeout_s`
    bounds a PostgreSQL connect (libpq's connect_timeout); a SQLite file has no connect to
    wait for, its busy timeout bounds the wait for the write lock instead. Parameters are
    hidden from errors and logs unless the caller passes hide_parameters=False."""
    url = make_url(database_url)
    connect_args: dict[str, Any] = kwargs.pop("connect_args", {})
    # Statement parameters are phones, names and provider payloads: a database error (and the
    # log line or traceback that carries it) shows the statement but never the values.
    kwargs.setdefault("hide_parameters", True)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_S, **connect_args}
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if connect_timeout_s is not None and url.get_backend_name() == "postgresql":
        connect_args = {"connect_timeout": connect_timeout_s, **connect_args}
    engine = create_engine(url, connect_args=connect_args, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        event.listen(engine, "checkout", functools.partial(_ping_unless_unpinged, engine.dialect))
    return engine


# A ping before each checkout keeps a request after a PostgreSQL restart (a provider's
# callback, an operator's page) from failing once per pooled connection; it costs a round
# trip, which the USSD hop does not pay (issue 19): it retries a dropped connection itself.
_UNPINGED: ContextVar[bool] = ContextVar("gateway_db_unpinged", default=False)


@contextmanager
def unpinged() -> Iterator[None]:
    """Checkouts in this block are not pinged: the caller retries a dropped connection."""
    token = _UNPINGED.set(True)
    try:
        yield
    finally:
        _UNPINGED.reset(token)


def _ping_unless_unpinged(dialect: Dialect, dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
    """SQLAlchemy's pre-ping as a checkout event, so that it can be skipped: a connection the
    server dropped invalidates the pool (every older connection too) and the pool hands a
    new one instead."""
    if _UNPINGED.get():
        return
    try:
        dialect.do_ping(dbapi_conn)
    except dialect.loaded_dbapi.Error as err:
        if dialect.is_disconnect(err, dbapi_conn, None):
            raise InvalidatePoolError(str(err)) from err
        raise


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # pysqlite's own transaction handling makes SAVEPOINT commit when no BEGIN was sent yet;
    # SQLAlchemy's documented recipe: let SQLAlchemy emit BEGIN itself (see _sqlite_begin).
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # IMMEDIATE takes the write lock up front: web, worker and commands share one file, and a
    # deferred transaction that later writes fails at once instead of waiting its turn.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, future=True)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Unit of work for jobs and commands: commit on success, roll back on error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def is_postgres(engine_or_session: Engine | Session) -> bool:
    bind = (
        engine_or_session.get_bind()
        if isinstance(engine_or_session, Session)
        else engine_or_session
    )
    return bind.dialect.name == "postgresql"
