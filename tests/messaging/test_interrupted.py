"""Receipts never lost to a crash (issue 15, point 3; messaging.md "Throughput"): each provider
request's answers are applied as soon as they arrive, so a batch interrupted after k requests
leaves those k messages SENT with their provider ids and the rest SENDING without one; the
sweeper (`sms_dispatch`) puts those back in the queue with their attempt counted, alerts on
the rest, and a second run sends each message exactly once."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from rq import Queue
from rq.registry import StartedJobRegistry
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.clock import FixedClock
from gateway.models import Alert, OutboxMessage, OutboxStatus
from gateway.queueing import JOBS
from gateway.services.messaging import SendResult, outbox
from tests.support.messaging import different_texts, job_context
from worker import jobs, registry
from worker.jobs.messaging import deliver, held_messages
from worker.rq_workers import SimpleWorker

START = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


class Killed(BaseException):
    """What a SIGKILL or the job timeout does to the batch: nothing after it runs."""


class Provider:
    """Accepts every request; with `die_after`, the worker "dies" on the next request."""

    name = "fake"

    def __init__(self, die_after: int | None = None) -> None:
        self.die_after = die_after
        self.phones: list[str] = []
        self.requests = 0

    def send(self, phone_e164s: list[str], text: str, sender_id: str | None) -> list[SendResult]:
        if self.die_after is not None and self.requests >= self.die_after:
            raise Killed
        self.requests += 1
        self.phones += phone_e164s
        return [SendResult(p, 101, f"pid-{p}", "accepted", "ok") for p in phone_e164s]


@pytest.fixture
def ctx(
    database_url: str, redis_client: redis.Redis[bytes], tmp_path: Path
) -> Iterator[jobs.JobContext]:
    yield from job_context(database_url, redis_client, tmp_path, FixedClock(START))


def rows(factory: sessionmaker[Session]) -> list[OutboxMessage]:
    with factory() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_the_stale_bound_outlives_every_send_job() -> None:
    """A SENDING row is taken from its sender only once RQ has killed any job still on it."""
    longest = max(s.timeout_s for s in JOBS.values() if s.path.startswith("worker.jobs.messag"))
    assert dt.timedelta(seconds=longest) < outbox.STALE_SENDING


def test_a_batch_killed_after_k_requests_loses_no_receipt_and_sends_each_once(
    session_factory: sessionmaker[Session], ctx: jobs.JobContext
) -> None:
    ids = different_texts(session_factory, 6)
    first = Provider(die_after=2)
    ctx.sms = first
    with pytest.raises(Killed):
        deliver(ctx, ids)
    after = rows(session_factory)
    assert [m.status for m in after] == ["SENT"] * 2 + ["SENDING"] * 4
    assert [m.provider_message_id for m in after[:2]] == [f"pid-{p}" for p in first.phones]
    assert all(m.provider_message_id is None for m in after[2:])

    # Not yet stale: a live batch may still be on them.
    with ctx.session() as session:
        assert outbox.requeue_stale_sending(session, ctx.clock.now()).requeued == []
    assert isinstance(ctx.clock, FixedClock)
    ctx.clock.advance(seconds=outbox.STALE_SENDING.total_seconds())
    with ctx.session() as session:
        sweep = outbox.requeue_stale_sending(session, ctx.clock.now())
    assert sweep.requeued == ids[2:] and sweep.failed == sweep.waiting == []
    requeued = rows(session_factory)[2:]
    assert {(m.status, m.attempts) for m in requeued} == {("QUEUED", 1)}  # attempt counted

    second = Provider()
    ctx.sms = second
    done = deliver(ctx, ids)
    assert sorted(done) == ids[2:]
    assert Counter(first.phones + second.phones) == Counter(
        {f"+226701{n:05d}": 1 for n in range(6)}
    )
    final = rows(session_factory)
    assert {m.status for m in final} == {"SENT"}
    assert all(m.provider_message_id == f"pid-{m.phone}" for m in final)
    assert [m.attempts for m in final] == [1, 1, 2, 2, 2, 2]
    with session_factory() as session:
        assert session.scalars(select(Alert)).all() == []


def test_stale_messages_out_of_attempts_fail_and_those_the_provider_has_wait_with_one_alert(
    session_factory: sessionmaker[Session], ctx: jobs.JobContext
) -> None:
    ids = different_texts(session_factory, 4)
    with session_factory.begin() as session:
        messages = [session.get(OutboxMessage, i) for i in ids]
        for message in messages:
            assert message is not None
            message.status = OutboxStatus.SENDING
            message.attempts = 1
            message.updated_at = START - outbox.STALE_SENDING
        assert messages[0] and messages[1] and messages[2]
        messages[0].attempts = outbox.MAX_ATTEMPTS
        messages[1].provider_message_id = "pid-known"
        messages[2].last_error = "unknown: ReadTimeout"
    with ctx.session() as session:
        sweep = outbox.requeue_stale_sending(session, START)
    assert (sweep.requeued, sweep.failed, sweep.waiting) == ([ids[3]], [ids[0]], ids[1:3])
    assert [m.status for m in rows(session_factory)] == ["FAILED", "SENDING", "SENDING", "QUEUED"]
    with ctx.session() as session:  # a second sweep the same day: no second alert
        again = outbox.requeue_stale_sending(session, START + dt.timedelta(minutes=1))
    assert again.waiting == ids[1:3] and again.requeued == again.failed == []
    with session_factory() as session:
        alerts = session.scalars(select(Alert)).all()
    assert [a.kind for a in alerts] == ["sms_stale_sending"]
    assert "1 failed" in alerts[0].detail and "2 awaiting" in alerts[0].detail


def test_the_periodic_dispatch_requeues_and_resends_an_interrupted_batch(
    session_factory: sessionmaker[Session], ctx: jobs.JobContext, redis_client: redis.Redis[bytes]
) -> None:
    ids = different_texts(session_factory, 3)
    ctx.sms = Provider(die_after=1)
    with pytest.raises(Killed):
        deliver(ctx, ids)
    assert isinstance(ctx.clock, FixedClock)
    ctx.clock.advance(seconds=outbox.STALE_SENDING.total_seconds() + 1)
    ctx.sms = second = Provider()
    registry.enqueue(redis_client, "sms-dispatch")
    worker = SimpleWorker([Queue(registry.SMS, connection=redis_client)], connection=redis_client)
    worker.work(burst=True)
    assert {m.status for m in rows(session_factory)} == {"SENT"}
    assert second.requests == 2


def test_messages_no_live_job_holds_are_requeued_within_seconds(
    session_factory: sessionmaker[Session], ctx: jobs.JobContext
) -> None:
    """Issue 15, point 4: the messages of a dead worker's batch need not wait STALE_SENDING;
    those a running job holds (`owned`), or whose request may have left, stay SENDING."""
    ids = different_texts(session_factory, 6)
    ctx.sms = Provider(die_after=2)
    with pytest.raises(Killed):
        deliver(ctx, ids)
    with session_factory.begin() as session:
        session.get_one(OutboxMessage, ids[5]).last_error = "unknown: read timeout"
    held = ids[2:4]
    assert isinstance(ctx.clock, FixedClock)
    with ctx.session() as session:  # just claimed: a job may be about to register
        assert outbox.requeue_stale_sending(session, ctx.clock.now(), owned=held).requeued == []
    ctx.clock.advance(seconds=outbox.UNOWNED_AFTER.total_seconds())
    with ctx.session() as session:
        sweep = outbox.requeue_stale_sending(session, ctx.clock.now(), owned=held)
    assert sweep.requeued == [ids[4]] and sweep.failed == sweep.waiting == []
    statuses = [m.status for m in rows(session_factory)]
    assert statuses == ["SENT"] * 2 + ["SENDING"] * 2 + ["QUEUED", "SENDING"]
    with session_factory() as session:
        assert session.scalars(select(Alert)).all() == []  # no alert before STALE_SENDING


def test_held_messages_are_those_of_send_jobs_whose_heartbeat_lives(
    redis_client: redis.Redis[bytes],
) -> None:
    queue = Queue(registry.SMS, connection=redis_client)
    key = StartedJobRegistry(queue=queue).key
    now = time.time()
    for job_id, name, arg, expires in (
        ("live-batch", "send-sms-batch", "1,2,3", now + 10),
        ("live-one", "send-sms", "7", now + 10),
        ("dead-batch", "send-sms-batch", "4,5", now - 1),
        ("other", "sms-dispatch", "", now + 10),
    ):
        registry.enqueue(redis_client, name, *([arg] if arg else []), job_id=job_id)
        redis_client.zadd(key, {f"{job_id}:exec": expires})
    assert held_messages(redis_client) == {1, 2, 3, 7}
