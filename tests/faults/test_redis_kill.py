"""Fault: Redis SIGKILLed while a worker and the served gateway run payments (issue 15,
acceptance 2), then restarted on its own files (AOF, fsync at every write: the queued and
scheduled jobs survive) or empty (they are lost: the sweepers re-create them from the
database). A private redis-server, on a port and directory of the test's own.

The worker and the gateway stay up through the outage. Every intent ends credited once with
one receipt sent; the waits only the clock ends (a CREATED intent's two minutes, an
unapplied callback's minute, the next status poll) are moved into the past by the test. The
time from the restart to the last receipt SENT is printed and bounded by RECOVERY_BOUND_S."""

from __future__ import annotations

import functools
import time
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.support import faults
from tests.support.fakes.mtnmomo_fake import MtnMomoFake
from tests.support.payments import free_port
from tests.support.worker_processes import wait_until_working, worker_env

pytestmark = pytest.mark.faults
COUNT = 4


@pytest.mark.parametrize("keep_data", [True, False], ids=["with-its-data", "empty"])
def test_payments_complete_once_after_redis_is_killed(
    keep_data: bool,
    database_url: str,
    session_factory: sessionmaker[Session],
    mtnmomo_fake: MtnMomoFake,
    tmp_path: Path,
) -> None:
    mtnmomo_fake.default.callbacks = 1
    mtnmomo_fake.default.initiate_delay = 0.5  # jobs still queued when Redis dies
    log, sms_log = tmp_path / "worker.log", tmp_path / "sms.log"
    ids = faults.pay_household(session_factory, "mtnmomo", count=COUNT)
    worker = None
    with faults.private_redis(tmp_path / "redis") as server, server.client() as connection:
        env = worker_env(
            database_url,
            server.url,
            tmp_path,
            GATEWAY_PUBLIC_URL=f"http://127.0.0.1:{free_port()}",
            FAULT_SMS_LOG=str(sms_log),
            **faults.mtn_env(mtnmomo_fake),
        )
        with faults.served_gateway(env):
            try:
                worker = faults.start_worker(env, log)
                wait_until_working(worker, connection, log)
                faults.initiate(connection, ids)
                some_done = faults.wait_for(
                    lambda: "SUCCEEDED" in faults.intent_states(session_factory),
                    60,
                    (worker,),
                    log,
                    every_s=0.05,
                )
                assert some_done, log.read_text()
                server.restart(keep_data=keep_data)
                started = time.monotonic()
                states = faults.intent_states(session_factory)
                done = faults.until_settled(
                    session_factory,
                    connection,
                    (worker,),
                    log,
                    meanwhile=functools.partial(faults.elapse_bounds, session_factory),
                )
                took = faults.recovered(
                    f"Redis killed, restarted {'with its data' if keep_data else 'empty'}",
                    started,
                )
                assert done, (states, faults.money_problems(session_factory), log.read_text())
                assert worker.poll() is None  # the same worker, reconnected
            finally:
                faults.stop(worker)
    assert len(mtnmomo_fake.received("POST", "/collection/v1_0/requesttopay")) == COUNT
    assert sorted(faults.sent_phones(sms_log)) == [f"+2267012{n:04d}" for n in range(COUNT)]
    assert took < faults.RECOVERY_BOUND_S
