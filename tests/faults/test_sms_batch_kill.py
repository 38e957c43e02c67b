"""Fault: a real `gateway worker` SIGKILLed in the middle of an SMS batch (issue 15, points 3
and acceptance 2). The messages whose request was answered are SENT with their provider ids;
the rest wait SENDING without one, and once stale the sweeper (`sms-dispatch`) puts them back
in the queue and a new worker sends them: every message ends SENT, and only the request in
flight at the kill may have gone twice. The time from the new worker's start to the last
message SENT is printed."""

from __future__ import annotations

import datetime as dt
import subprocess
import time
from pathlib import Path

import pytest
import redis
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from gateway.models import OutboxMessage, OutboxStatus
from gateway.services.messaging import outbox
from tests.support import faults
from tests.support.messaging import different_texts
from tests.support.worker_processes import wait_until_working, worker_env
from worker import registry

pytestmark = pytest.mark.faults

COUNT = 6


def start(env: dict[str, str], log: Path, delay_s: float) -> subprocess.Popen[bytes]:
    """A worker on the sms queue whose sandbox provider takes `delay_s` per request."""
    return faults.start_worker({**env, "FAULT_SMS_DELAY_S": str(delay_s)}, log, "sms")


def statuses(factory: sessionmaker[Session]) -> list[tuple[str, str | None]]:
    with factory() as session:
        rows = session.execute(
            select(OutboxMessage.status, OutboxMessage.provider_message_id).order_by(
                OutboxMessage.id
            )
        )
        return [(str(status), pid) for status, pid in rows]


def test_a_worker_killed_mid_batch_loses_no_receipt(
    database_url: str,
    redis_client: redis.Redis[bytes],
    session_factory: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    sent_log, log = tmp_path / "sent.log", tmp_path / "worker.log"
    env = worker_env(database_url, redis_client, tmp_path, FAULT_SMS_LOG=str(sent_log))
    ids = different_texts(session_factory, COUNT)
    registry.enqueue(redis_client, "send-sms-batch", ",".join(map(str, ids)), job_id="batch-1")
    first = start(env, log, delay_s=0.4)
    second: subprocess.Popen[bytes] | None = None
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if sent_log.exists() and len(sent_log.read_text().split()) >= 2:
                break
            assert first.poll() is None, log.read_text()
            time.sleep(0.05)
        faults.kill(first)
        after_kill = statuses(session_factory)
        sent = [s for s in after_kill if s[0] == "SENT"]
        assert len(sent) >= 1 and all(pid for _, pid in sent), after_kill
        assert {s for s, _ in after_kill} <= {"SENT", "SENDING"}
        assert all(pid is None for s, pid in after_kill if s == "SENDING"), after_kill
        assert len(sent) < COUNT, "the kill came too late to test anything"
        with session_factory.begin() as session:  # the stale bound has passed
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.status == OutboxStatus.SENDING)
                .values(updated_at=dt.datetime.now(dt.UTC) - outbox.STALE_SENDING * 2)
            )
        started = time.monotonic()
        second = start(env, log, delay_s=0)
        wait_until_working(second, redis_client, log)
        registry.enqueue(redis_client, "sms-dispatch")
        while time.monotonic() < started + faults.RECOVERY_BOUND_S + 30:
            if {s for s, _ in statuses(session_factory)} == {"SENT"}:
                break
            assert second.poll() is None, log.read_text()
            time.sleep(0.2)
        took = faults.recovered(f"worker killed mid-SMS-batch ({len(sent)} sent)", started)
        final = statuses(session_factory)
        assert {s for s, _ in final} == {"SENT"} and all(pid for _, pid in final), final
        phones = sent_log.read_text().split()
        assert sorted(set(phones)) == [f"+226701{n:05d}" for n in range(COUNT)]
        assert len(phones) - COUNT <= 1  # only the request in flight at the kill, if any
        assert not faults.money_problems(session_factory)  # nothing SENDING, ledger clean
        assert took < faults.RECOVERY_BOUND_S
    finally:
        faults.kill(first)
        faults.stop(second)
