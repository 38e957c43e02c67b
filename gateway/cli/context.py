"""What every command needs: the settings, read on first use (so that `--help` works with a
broken environment), and the process's Runtime built from them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import cached_property
from types import TracebackType

import click
import redis
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gateway.clock import Clock
from gateway.runtime import Runtime
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
    def runtime(self) -> Runtime:
        return Runtime(self.settings, self.clock)

    @property
    def engine(self) -> Engine:
        return self.runtime.engine

    @property
    def redis(self) -> redis.Redis[bytes]:
        return self.runtime.redis

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits when the command's block succeeds."""
        with self.runtime.session() as session:
            yield session

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if "runtime" in self.__dict__:
            self.runtime.close()
