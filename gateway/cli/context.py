"""What every command needs: the settings, read on first use (so that `--help` works with a
broken environment), and the process's Runtime built from them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import cached_property
from pathlib import Path
from types import TracebackType

import click
import redis
from sqlalchemy import Engine, make_url
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session

from gateway import migrate
from gateway.clock import Clock
from gateway.runtime import Runtime
from gateway.settings import Settings, SettingsError


class CliContext(AbstractContextManager["CliContext"]):
    clock: Clock = Clock()
    # False for the commands that make the schema (`db ...`, `run`): every other command refuses
    # a database that is not at the code's revision (issue 15).
    check_schema: bool = True

    @cached_property
    def settings(self) -> Settings:
        try:
            return Settings.from_env()
        except SettingsError as exc:
            raise click.ClickException(str(exc)) from exc

    @cached_property
    def runtime(self) -> Runtime:
        runtime = Runtime(self.settings, self.clock)
        if self.check_schema:
            try:
                require_schema(runtime)
            except click.ClickException:
                runtime.close()
                raise
        return runtime

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


def require_schema(runtime: Runtime) -> None:
    """One line instead of an empty SQLite file created in the current directory and a
    traceback: the database must exist and be at the code's migration head."""
    url = runtime.settings.database_url
    shown = make_url(url).render_as_string(hide_password=True)
    if runtime.settings.embedded_database:
        path = Path(make_url(url).database or "")
        if not path.is_file():
            raise click.ClickException(
                f"the database at {path} is not set up: run `gateway db upgrade` "
                "(or set DATABASE_URL or GATEWAY_VAR_DIR)"
            )
        shown = str(path)
    try:
        current = migrate.current_revision(runtime.engine)
    except DatabaseError as exc:  # unreachable, refused, not a database file
        reason = str(exc.orig or exc).strip().splitlines()[0]
        raise click.ClickException(f"the database at {shown} cannot be used: {reason}") from exc
    if current is None:
        raise click.ClickException(
            f"the database at {shown} is not set up: run `gateway db upgrade`"
        )
    head = migrate.head_revision(url)
    if current != head:
        raise click.ClickException(
            f"the database at {shown} is at revision {current}, the code needs {head}: "
            "run `gateway db upgrade`"
        )
