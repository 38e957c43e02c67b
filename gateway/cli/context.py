"""What every command needs, built lazily once: settings, engine, sessions, Redis."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import cached_property
from types import TracebackType

import click
import redis
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from gateway.clock import Clock
from gateway.db import make_engine, make_session_factory, session_scope
from gateway.queueing import enqueue_after_commit
from gateway.redis_conn import connect_redis
from gateway.settings import Settings, SettingsError


class CliContext(AbstractContextManager["CliContext"]):
    clock: Clock = Clock()

    @cached_property
    def settings(self) -> Settings:
        try:
            return Settings.from_env()
        except SettingsError as exc:
            raise click.ClickException(str(exc)) from exc

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.database_url)

    @cached_property
    def session_factory(self) -> sessionmaker[Session]:
        factory = make_session_factory(self.engine)
        enqueue_after_commit(factory, lambda: self.redis)  # connects only if a job is deferred
        return factory

    @cached_property
    def redis(self) -> redis.Redis[bytes]:
        return connect_redis(self.settings)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits when the command's block succeeds."""
        with session_scope(self.session_factory) as session:
            yield session

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()
