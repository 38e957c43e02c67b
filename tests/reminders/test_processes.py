"""D17 across processes: two real `gateway worker --burst` processes, started together, run
eight run-reminders jobs for the same moment; the reminders are still queued once. A run takes
milliseconds since issue 19, so one process may drain the queue before the other has started:
the test asserts that the jobs ran, not how the two processes shared them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.models import OutboxMessage, ReminderOccurrence
from tests.support.paths import ROOT
from tests.support.redis_url import redis_url_of
from tests.support.reminders import WINDOW_OPENS, build
from worker import registry


@pytest.mark.postgres
def test_two_worker_processes_at_once_send_nothing_twice(
    session_factory: sessionmaker[Session],
    redis_client: redis.Redis[bytes],
    database_url: str,
    tmp_path: Path,
) -> None:
    with session_factory.begin() as session:
        build(session, repeat_every_days=1)
    for n in range(8):
        registry.enqueue(
            redis_client, "run-reminders", WINDOW_OPENS.isoformat(), job_id=f"reminders-{n}"
        )
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url_of(redis_client),
        "GATEWAY_ENV": "test",
        "GATEWAY_VAR_DIR": str(tmp_path / "var"),
    }
    command = [sys.executable, "-m", "gateway", "worker", "--queues", "sms", "--burst"]
    workers = [
        subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        for _ in range(2)
    ]
    outputs = [w.communicate(timeout=120)[0].decode() for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    assert any("reminders-" in out for out in outputs), outputs
    assert sum(out.count("Job OK") for out in outputs) == 8, outputs
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 2
        sent = select(func.count()).where(ReminderOccurrence.status == "sent")
        assert session.scalar(sent) == 2
        keys = session.scalars(select(OutboxMessage.dedupe_key)).all()
        assert len(set(keys)) == 2
