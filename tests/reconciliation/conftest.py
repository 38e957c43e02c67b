"""Fixtures of the `gateway reconcile` command and `reconcile` job tests: the environment of
a command run on the test database and Redis, an invoker, the golden day's intents, and the
worker's job context."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner, Result
from sqlalchemy.orm import Session, sessionmaker

from gateway.cli import main
from gateway.settings import Settings
from tests.support.reconciliation import golden_day
from tests.support.redis_url import redis_url_of
from worker import jobs

Invoke = Callable[..., Result]


@pytest.fixture
def env(database_url: str, redis_client: redis.Redis[bytes], tmp_path: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url_of(redis_client),
        "GATEWAY_ENV": "test",
        "GATEWAY_VAR_DIR": str(tmp_path / "var"),
    }


@pytest.fixture
def run(env: dict[str, str]) -> Invoke:
    def invoke(*args: str) -> Result:
        return CliRunner().invoke(main, ["reconcile", *args], env=env)

    return invoke


@pytest.fixture
def golden(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        mutual, _ = golden_day(session)
        mutual.payment_settings = {"approval_threshold": 5000}


@pytest.fixture
def job_context(env: dict[str, str]) -> Iterator[jobs.JobContext]:
    context = jobs.configure(Settings.from_env(env))
    yield context
    context.close()
