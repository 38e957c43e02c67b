"""Real `gateway worker` processes in tests: waiting until one is in its loop."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import redis
from rq import Worker

READY_TIMEOUT_S = 60.0


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
