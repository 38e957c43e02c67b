"""Faults: a real `gateway worker` SIGKILLed in the middle of a payment (issue 15, acceptance
2), against the local MTN MoMo fake (X-Reference-Id: the provider's idempotency key).

- During initiation: the request reached the provider, its answer never came back. The intent
  stays CREATED with one attempt; RQ retries the abandoned job on a new worker, which moves it
  to UNKNOWN (never re-sent), and the status poll credits it once.
- During callback application: the status answer was applied but not committed. RQ retries the
  abandoned confirm job on a new worker: one credit, one receipt.

The waits that only the clock ends (RQ's 90 s heartbeat of a dead worker's job, the 30 s
before the first status poll) are moved into the past by the test; the time from the new
worker's start to the receipt SENT is printed and bounded by RECOVERY_BOUND_S."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest
import redis
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from gateway.models import PaymentEvent, PaymentIntent
from tests.support import faults
from tests.support.fakes.mtnmomo_fake import RTP, MtnMomoFake
from tests.support.worker_processes import wait_until_working

pytestmark = pytest.mark.faults


def intent_of(factory: sessionmaker[Session], intent_id: int) -> PaymentIntent:
    with factory() as session:
        return session.get_one(PaymentIntent, intent_id)


def poll_now(factory: sessionmaker[Session]) -> None:
    """The 30 s before the first status poll elapse."""
    with factory.begin() as session:
        session.execute(
            update(PaymentIntent)
            .where(PaymentIntent.next_poll_at.is_not(None))
            .values(next_poll_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )


def test_a_worker_killed_mid_initiation_credits_once_without_a_second_request(
    env: dict[str, str],
    redis_client: redis.Redis[bytes],
    session_factory: sessionmaker[Session],
    mtnmomo_fake: MtnMomoFake,
    tmp_path: Path,
) -> None:
    log = tmp_path / "worker.log"
    mtnmomo_fake.default.initiate_delay = 30.0  # the request is kept; the answer never comes
    (intent_id,) = faults.pay_household(session_factory, "mtnmomo")
    faults.initiate(redis_client, [intent_id])
    first = faults.start_worker(env, log)
    second = None
    try:
        assert faults.wait_for(lambda: bool(mtnmomo_fake.received("POST", RTP)), 60, (first,), log)
        faults.kill(first)
        killed = intent_of(session_factory, intent_id)
        assert (killed.state, killed.initiate_attempts) == ("CREATED", 1)
        assert faults.expire_dead_workers(redis_client) == [f"initiate-payment-{intent_id}"]
        mtnmomo_fake.default.initiate_delay = 0.0
        started = time.monotonic()
        second = faults.start_worker(env, log)
        wait_until_working(second, redis_client, log)
        unknown = faults.wait_for(
            lambda: intent_of(session_factory, intent_id).state == "UNKNOWN", 60, (second,), log
        )
        assert unknown, log.read_text()
        assert intent_of(session_factory, intent_id).reason == "initiation outcome unknown"
        poll_now(session_factory)
        done = faults.until_settled(session_factory, redis_client, (second,), log)
        took = faults.recovered("worker killed mid-initiation", started)
        assert done, faults.money_problems(session_factory)
        assert intent_of(session_factory, intent_id).state == "SUCCEEDED"
        assert len(mtnmomo_fake.received("POST", RTP)) == 1  # never sent twice
        assert len(mtnmomo_fake.payments) == 1
        assert faults.sent_phones(tmp_path / "sms.log") == ["+22670120000"]  # one receipt
        assert faults.DEQUEUE_TIMEOUT not in log.read_text()
        assert took < faults.RECOVERY_BOUND_S
    finally:
        faults.kill(first)
        faults.stop(second)


@pytest.mark.usefixtures("served")
def test_a_worker_killed_while_applying_a_callback_applies_it_once(
    env: dict[str, str],
    redis_client: redis.Redis[bytes],
    session_factory: sessionmaker[Session],
    mtnmomo_fake: MtnMomoFake,
    tmp_path: Path,
) -> None:
    log, mark = tmp_path / "worker.log", tmp_path / "applying"
    mtnmomo_fake.default.callbacks = 1  # MTN calls back (unsigned: confirmed by a status query)
    (intent_id,) = faults.pay_household(session_factory, "mtnmomo")
    faults.initiate(redis_client, [intent_id])
    paused = {**env, "FAULT_APPLY_MARK": str(mark), "FAULT_APPLY_PAUSE_S": "60"}
    first = faults.start_worker(paused, log)
    second = None
    try:
        assert faults.wait_for(mark.exists, 60, (first,), log), log.read_text()
        faults.kill(first)  # the answer is applied in its transaction, not committed
        assert intent_of(session_factory, intent_id).state == "PENDING"
        with session_factory() as session:
            assert session.scalars(select(PaymentEvent.outcome)).all() == [None]
        abandoned = faults.expire_dead_workers(redis_client)
        assert abandoned == [f"confirm-payment-{mark.read_text()}"], abandoned
        started = time.monotonic()
        second = faults.start_worker(env, log)
        done = faults.until_settled(session_factory, redis_client, (second,), log)
        took = faults.recovered("worker killed while applying a callback", started)
        assert done, faults.money_problems(session_factory)
        assert intent_of(session_factory, intent_id).state == "SUCCEEDED"
        assert faults.sent_phones(tmp_path / "sms.log") == ["+22670120000"]  # one receipt
        assert faults.DEQUEUE_TIMEOUT not in log.read_text()
        assert took < faults.RECOVERY_BOUND_S
    finally:
        faults.kill(first)
        faults.stop(second)
