"""Real `gateway worker` processes in tests: waiting until one is in its loop."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
import redis
from rq import Worker

from tests.support.redis_url import redis_url_of

READY_TIMEOUT_S = 60.0


def worker_env(
    database_url: str, redis_client: redis.Redis[bytes] | str, tmp_path: Path, **extra: str
) -> dict[str, str]:
    """The environment of a real `gateway worker` process on the test's database and Redis
    (a client of it, or its URL)."""
    url = redis_client if isinstance(redis_client, str) else redis_url_of(redis_client)
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": url,
        "GATEWAY_ENV": "test",
        "GATEWAY_VAR_DIR": str(tmp_path / "var"),
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def wait_until_working(
    proc: subprocess.Popen[bytes], connection: redis.Redis[bytes], log: Path
) -> None:
    """Until the worker is in its loop (idle or busy): its signal handlers are installed."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        if any(w.get_state() in ("idle", "busy") for w in Worker.all(connection=connection)):
            return
        time.sleep(0.05)
    pytest.fail(f"the worker did not start within {READY_TIMEOUT_S}s:\n{log.read_text()}")
