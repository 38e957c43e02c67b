"""`gateway run` end to end in embedded mode: ready within a minute, stops cleanly on Ctrl-C
leaving no process behind; and `gateway db upgrade` / `current` from a fresh directory."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest
from alembic.script import ScriptDirectory

from gateway import migrate

pytestmark = pytest.mark.slow
READY_TIMEOUT_S = 60


def embedded_env(tmp_path: Path) -> dict[str, str]:
    """The environment of `make run` on a fresh machine: no servers configured."""
    drop = {"DATABASE_URL", "REDIS_URL", "GATEWAY_ENV", "GATEWAY_PORT", "GATEWAY_USSD_TOKEN",
            "GATEWAY_PUBLIC_URL"}  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["GATEWAY_VAR_DIR"] = str(tmp_path / "var")
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> dict[str, str]:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"gateway run exited early:\n{log.read_text()}"
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return dict(json.loads(answer.read()))
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    raise AssertionError(f"not ready within {READY_TIMEOUT_S} s:\n{log.read_text()}")


def embedded_redis_pid(var_dir: Path) -> int | None:
    registry = var_dir / "redis.db.settings"
    if not registry.exists():
        return None
    pidfile = Path(json.loads(registry.read_text())["pidfile"])
    return int(pidfile.read_text().strip()) if pidfile.exists() else None


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_gone(pids: list[int], timeout_s: float = 15) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not all(gone(p) for p in pids):
        time.sleep(0.1)
    return [p for p in pids if not gone(p)]


def test_gateway_run_serves_then_stops_cleanly_on_sigint(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway", "run", "--port", str(port)],
            cwd=tmp_path,
            env=embedded_env(tmp_path),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    pids: list[int] = []
    try:
        checks = wait_ready(f"http://127.0.0.1:{port}/readyz", proc, log)
        assert checks == {"database": "ok", "redis": "ok"}
        pids = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
        assert len(pids) >= 2, "web and worker run as child processes"
        for child in psutil.Process(proc.pid).children():  # sandbox callbacks reach this port
            assert child.environ()["GATEWAY_PUBLIC_URL"] == f"http://127.0.0.1:{port}"
        redis_pid = embedded_redis_pid(tmp_path / "var")
        assert redis_pid is not None, "the embedded Redis lives under GATEWAY_VAR_DIR"
        pids.append(redis_pid)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0, log.read_text()
        assert wait_gone(pids) == [], f"left running:\n{log.read_text()}"
        output = log.read_text()
        for path in ("/ussd/africastalking", "/simulator", "/readyz"):
            assert f"http://127.0.0.1:{port}{path}" in output
        assert (tmp_path / "var" / "gateway.db").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in pids:
            if not gone(pid):
                os.kill(pid, signal.SIGKILL)


def test_db_upgrade_then_current_prints_head(tmp_path: Path) -> None:
    env = embedded_env(tmp_path)

    def gateway(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "gateway", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    head = ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_current_head()
    assert gateway("db", "current") == "base"
    assert gateway("db", "upgrade").endswith(str(head))
    assert gateway("db", "current") == head


class _Exited:
    """A child process that has exited with `code`."""

    def __init__(self, code: int) -> None:
        self.returncode = code

    def poll(self) -> int:
        return self.returncode


def test_gateway_run_restarts_a_worker_that_stopped_on_its_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 19: a worker past GATEWAY_WORKER_MAX_RSS_MB exits 75 after its job; `gateway run`
    starts a fresh one, while any other exit still stops everything."""
    import threading

    from gateway.cli import serve
    from worker.inprocess import RECYCLE_EXIT

    children = serve._Children({})
    started: list[str] = []

    def start(name: str, *args: str) -> _Exited:
        started.append(name)
        proc = _Exited(RECYCLE_EXIT if len(started) == 1 else 1)
        children.procs[name] = proc  # type: ignore[assignment]
        return proc

    monkeypatch.setattr(children, "start", start)
    start("worker")
    assert children.supervise(threading.Event()) == "worker"  # the second exit: status 1
    assert started == ["worker", "worker"]  # restarted once, after its exit 75
