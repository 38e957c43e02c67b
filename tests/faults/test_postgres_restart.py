"""Fault: PostgreSQL stopped (`pg_ctl stop -m fast`, or `immediate`: a crash, recovered from
its WAL) and started again while a `gateway worker` and the served gateway run (issue 15,
acceptance 2). A private cluster of the test's own (initdb, pg_ctl on a free port); as root
it runs as the `postgres` user, and where it cannot start the test is skipped with the reason.

During the outage a USSD hop answers 200 with a clean END apology (never a 5xx) and the
payments queued meanwhile fail their first try. Neither process is restarted: both reconnect
(pool_pre_ping), the jobs' retries complete the work, every intent is credited once with one
receipt sent. The time from the start of PostgreSQL to the last receipt SENT is printed.

It runs in the PostgreSQL job of the suite only (DATABASE_URL set): the embedded job would
repeat it to no purpose, and costs its time."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests
from sqlalchemy.orm import Session, sessionmaker

from gateway import migrate
from gateway.db import make_engine, make_session_factory
from tests.support import faults
from tests.support.fakes.mtnmomo_fake import MtnMomoFake
from tests.support.payments import free_port
from tests.support.worker_processes import wait_until_working, worker_env

pytestmark = [
    pytest.mark.faults,
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith("postgres"),
        reason="runs in the suite's PostgreSQL job only (with a private cluster of its own)",
    ),
]
COUNT = 2


@pytest.fixture
def cluster() -> Iterator[faults.PrivatePostgres]:
    server = faults.PrivatePostgres()
    try:
        server.init()
        migrate.upgrade(server.url)
        yield server
    finally:
        server.destroy()


@pytest.fixture
def factory(cluster: faults.PrivatePostgres) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(cluster.url)
    yield make_session_factory(engine)
    engine.dispose()


def hop(url: str, text: str = "") -> requests.Response:
    """One Africa's Talking USSD hop of the first household's phone."""
    form = {
        "sessionId": f"ATUid_fault_{time.monotonic_ns()}",
        "serviceCode": "*123#",
        "phoneNumber": "+22670120000",
        "networkCode": "61301",
        "text": text,
    }
    return requests.post(f"{url}/ussd/africastalking", data=form, timeout=30)


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_work_completes_across_a_postgresql_restart(
    mode: str,
    cluster: faults.PrivatePostgres,
    factory: sessionmaker[Session],
    redis_client: redis.Redis[bytes],
    mtnmomo_fake: MtnMomoFake,
    tmp_path: Path,
) -> None:
    mtnmomo_fake.default.callbacks = 1
    log, sms_log = tmp_path / "worker.log", tmp_path / "sms.log"
    ids = faults.pay_household(factory, "mtnmomo", count=COUNT)
    env = worker_env(
        cluster.url,
        redis_client,
        tmp_path,
        GATEWAY_PUBLIC_URL=f"http://127.0.0.1:{free_port()}",
        FAULT_SMS_LOG=str(sms_log),
        **faults.mtn_env(mtnmomo_fake),
    )
    worker = None
    with faults.served_gateway(env) as server:
        try:
            worker = faults.start_worker(env, log)
            wait_until_working(worker, redis_client, log)
            before = hop(server.url)
            assert (before.status_code, before.text[:4]) == (200, "CON "), before.text
            cluster.stop(mode)
            faults.initiate(redis_client, ids)  # their first try meets the outage
            during = hop(server.url)
            assert during.status_code == 200 and during.text.startswith("END "), during.text
            time.sleep(1.0)
            cluster.start()
            started = time.monotonic()
            done = faults.until_settled(factory, redis_client, (worker,), log)
            took = faults.recovered(f"PostgreSQL stopped ({mode}) and started", started)
            assert done, (faults.money_problems(factory), log.read_text())
            after = hop(server.url)
            assert (after.status_code, after.text[:4]) == (200, "CON "), after.text
            assert worker.poll() is None  # the same worker throughout
            assert faults.DEQUEUE_TIMEOUT not in log.read_text()
        finally:
            faults.stop(worker)
    assert sorted(faults.sent_phones(sms_log)) == [f"+2267012{n:04d}" for n in range(COUNT)]
    assert took < faults.RECOVERY_BOUND_S
