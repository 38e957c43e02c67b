"""A real `gateway worker` process stops promptly on SIGTERM / SIGINT (warm shutdown).

RQ 3 with redis-py 8 could wait 60 s in the worker's teardown, joining its pubsub thread (see
worker/rq_workers.py). The bound below is on such a hang, not a performance target. The `late`
case makes the bad interleaving certain: the call that asks the pubsub thread to stop comes
late, as when the worker's main thread loses the CPU just before it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from rq import Worker

from tests.support.paths import ROOT
from tests.support.worker_processes import wait_until_working, worker_env

STOP_BOUND_S = 15.0

# `gateway worker`, with redis-py's PubSubWorkerThread.stop() called half a second late.
LATE_STOP = """
import functools, runpy, sys, time
from redis.client import PubSubWorkerThread

stop = PubSubWorkerThread.stop

@functools.wraps(stop)
def late_stop(self, *args, **kwargs):
    time.sleep(0.5)
    stop(self, *args, **kwargs)

PubSubWorkerThread.stop = late_stop
sys.argv = ["gateway", *sys.argv[1:]]
runpy.run_module("gateway", run_name="__main__")
"""

COMMANDS = {
    "plain": [sys.executable, "-m", "gateway", "worker"],
    "late": [sys.executable, "-c", LATE_STOP, "worker"],
}


@pytest.mark.parametrize(
    ("launch", "signum"),
    [("plain", signal.SIGTERM), ("plain", signal.SIGINT), ("late", signal.SIGTERM)],
)
def test_worker_process_stops_promptly_on_a_signal(
    launch: str,
    signum: signal.Signals,
    database_url: str,
    redis_client: redis.Redis[bytes],
    tmp_path: Path,
) -> None:
    env = worker_env(database_url, redis_client, tmp_path)
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            COMMANDS[launch], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_until_working(proc, redis_client, log)
        time.sleep(0.5)  # the pubsub thread is in its read
        signalled = time.monotonic()
        proc.send_signal(signum)
        try:
            proc.wait(timeout=STOP_BOUND_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"no exit within {STOP_BOUND_S}s of {signum.name}:\n{log.read_text()}")
        took = time.monotonic() - signalled
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = log.read_text()
    assert proc.returncode == 0, output
    assert "warm shut down requested" in output and "worker stopped" in output, output
    assert "Traceback" not in output, output
    assert took < STOP_BOUND_S
    assert Worker.all(connection=redis_client) == []  # it unregistered on its way out
