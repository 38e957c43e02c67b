"""Queue an SMS, then send it with the RQ job in a SimpleWorker burst: sandbox provider, a
second run sends nothing, transient errors retry with backoff, 405 fails with an alert."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from rq import Queue
from rq.job import JobStatus
from sqlalchemy.orm import Session, sessionmaker

from gateway.models import OutboxMessage
from gateway.providers.sms import SandboxSms
from gateway.services.messaging import Outcome, SendResult, outbox
from tests.support.factories import make_mutual
from tests.support.messaging import job_context as new_job_context
from worker import jobs, registry
from worker.jobs.messaging import enqueue_pending_sms, send_sms
from worker.rq_workers import SimpleWorker

PHONE = "+22670123456"


class Recording:
    """A provider that answers a fixed outcome and counts what it was given."""

    name = "fake"

    def __init__(self, outcome: Outcome = "accepted", code: int | None = 101) -> None:
        self.outcome, self.code = outcome, code
        self.sent: list[tuple[list[str], str, str | None]] = []

    def send(self, phone_e164s: list[str], text: str, sender_id: str | None) -> list[SendResult]:
        self.sent.append((phone_e164s, text, sender_id))
        mid = f"id-{len(self.sent)}" if self.outcome == "accepted" else None
        return [SendResult(p, self.code, mid, self.outcome, "fake") for p in phone_e164s]


@pytest.fixture
def job_context(
    database_url: str, redis_client: redis.Redis[bytes], tmp_path: Path
) -> Iterator[jobs.JobContext]:
    yield from new_job_context(database_url, redis_client, tmp_path)


def queued(
    session_factory: sessionmaker[Session], sender: str | None = "MUSKOUD", code: str = "MUT"
) -> int:
    with session_factory.begin() as session:
        mutual = make_mutual(session, code)
        mutual.sms_sender_id = sender
        session.flush()
        message = outbox.queue_sms(
            session,
            mutual_id=mutual.id,
            phone=PHONE,
            template="optout_ack",
            language="fr",
            params={"mutual": "MS Koudougou"},
            reason="other",
        )
        session.flush()
        return message.id


def work(connection: redis.Redis[bytes]) -> None:
    queue = Queue(registry.SMS, connection=connection)
    SimpleWorker([queue], connection=connection).work(burst=True)


def load(session_factory: sessionmaker[Session], message_id: int) -> OutboxMessage:
    with session_factory() as session:
        message = session.get(OutboxMessage, message_id)
        assert message is not None
        return message


def test_queue_then_send_with_the_sandbox_and_a_second_run_sends_nothing(
    session_factory: sessionmaker[Session],
    redis_client: redis.Redis[bytes],
    job_context: jobs.JobContext,
) -> None:
    message_id = queued(session_factory)
    assert isinstance(job_context.sms_provider(), SandboxSms)  # the settings' default
    (job_id,) = enqueue_pending_sms(redis_client)
    work(redis_client)
    job = Queue(registry.SMS, connection=redis_client).fetch_job(job_id)
    assert job is not None and job.get_status() == JobStatus.FINISHED
    assert job.return_value() == "SENT"
    sent = load(session_factory, message_id)
    assert (sent.status, sent.provider, sent.attempts) == ("SENT", "sandbox", 1)
    assert sent.provider_message_id and sent.provider_message_id.startswith("sandbox-")
    assert sent.sent_at is not None
    # Nothing pending any more; a job for the same message (a duplicate) sends nothing.
    assert enqueue_pending_sms(redis_client) == []
    job_context.sms = spy = Recording()
    registry.enqueue(redis_client, "send-sms", str(message_id))
    work(redis_client)
    assert spy.sent == []
    assert load(session_factory, message_id).attempts == 1


def test_the_mutual_sender_id_and_the_text_go_to_the_provider(
    session_factory: sessionmaker[Session], job_context: jobs.JobContext
) -> None:
    message_id = queued(session_factory)
    job_context.sms = spy = Recording()
    assert send_sms(str(message_id)) == "SENT"
    assert spy.sent == [
        ([PHONE], load(session_factory, message_id).text, "MUSKOUD"),
    ]
    assert load(session_factory, message_id).provider_message_id == "id-1"


def test_transient_errors_are_retried_with_backoff(
    session_factory: sessionmaker[Session],
    redis_client: redis.Redis[bytes],
    job_context: jobs.JobContext,
) -> None:
    message_id = queued(session_factory, sender=None)
    job_context.sms = spy = Recording("transient", 500)
    (job_id,) = enqueue_pending_sms(redis_client)
    work(redis_client)
    assert len(spy.sent) == 1 and spy.sent[0][2] is None
    message = load(session_factory, message_id)
    assert (message.status, message.attempts) == ("QUEUED", 1)
    assert message.last_error == "transient: fake"
    scheduled = Queue(registry.SMS, connection=redis_client).scheduled_job_registry
    assert job_id in scheduled.get_job_ids()  # RQ retries it after the first interval
    assert registry.spec("send-sms").retries + 1 == outbox.MAX_ATTEMPTS
    # The retry, once the provider is back, sends it.
    job_context.sms = Recording()
    assert send_sms(str(message_id)) == "SENT"
    assert load(session_factory, message_id).attempts == 2


def test_permanent_insufficient_balance_and_unknown_outcomes(
    session_factory: sessionmaker[Session],
    job_context: jobs.JobContext,
    caplog: pytest.LogCaptureFixture,
) -> None:
    rejected, broke, unsure = (queued(session_factory, code=c) for c in ("M1", "M2", "M3"))
    job_context.sms = Recording("permanent", 403)
    assert send_sms(str(rejected)) == "REJECTED"
    job_context.sms = Recording("insufficient_balance", 405)
    with caplog.at_level(logging.ERROR, logger="worker.jobs.messaging"):
        assert send_sms(str(broke)) == "FAILED"
    assert "insufficient balance" in caplog.text and "ALERT" in caplog.text
    assert load(session_factory, broke).last_error == "insufficient_balance: fake"
    job_context.sms = Recording("unknown", None)
    assert send_sms(str(unsure)) == "SENDING"
    # Outcome unknown: left for the delivery reports, never sent again by a rerun.
    job_context.sms = spy = Recording()
    assert send_sms(str(unsure)) == "SENDING"
    assert spy.sent == []
    assert send_sms("999999") == "MISSING"


def test_a_provider_crash_counts_as_unknown(
    session_factory: sessionmaker[Session], job_context: jobs.JobContext
) -> None:
    message_id = queued(session_factory)

    class Broken(Recording):
        def send(
            self, phone_e164s: list[str], text: str, sender_id: str | None
        ) -> list[SendResult]:
            raise RuntimeError("socket closed")

    job_context.sms = Broken()
    assert send_sms(str(message_id)) == "SENDING"
    assert "socket closed" in (load(session_factory, message_id).last_error or "")


def test_the_periodic_dispatch_sends_what_an_enqueue_after_commit_lost(
    session_factory: sessionmaker[Session],
    redis_client: redis.Redis[bytes],
    job_context: jobs.JobContext,
) -> None:
    """architecture.md: the outbox row is the record; the scheduled sweeper re-enqueues it."""
    message_id = queued(session_factory)
    registry.enqueue(redis_client, "sms-dispatch")
    work(redis_client)  # the dispatch job enqueues send-sms on the same queue; burst runs it
    assert load(session_factory, message_id).status == "SENT"
