"""No queue starves another (issue 15, point 5; payments.md): confirmations have their own
queue; a duplicate callback does not enqueue its confirm job again while it is queued or
running; the sweeper's re-enqueues of an unconfirmable callback stop after GIVE_UP_AFTER or
MAX_CONFIRM_SWEEPS, with one alert."""

from __future__ import annotations

import datetime as dt

from rq import Queue
from rq.job import Job, JobStatus
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.models import Alert, Household, PaymentEvent, PaymentIntent
from gateway.services.payments import MAX_CONFIRM_SWEEPS
from gateway.services.payments.intents import create_intent
from gateway.services.payments.sweeps import ABANDONED, GIVE_UP_AFTER
from tests.support.payments import PHONE, PayEnv, env, family
from worker import registry
from worker.jobs.payments import SWEEPS_KEY, initiate_payment, sweep_payments

__all__ = ["env"]  # the fixture, used by name


def accepted_intent(env: PayEnv, factory: sessionmaker[Session]) -> PaymentIntent:
    household_id, _ = family(factory, members=1)
    with factory.begin() as session:
        household = session.get_one(Household, household_id)
        intent = create_intent(
            session, household=household, amount=6000, msisdn=PHONE, now=env.clock.now()
        )
        session.flush()
        intent_id = intent.id
    initiate_payment(str(intent_id))
    with factory() as session:
        return session.get_one(PaymentIntent, intent_id)


def confirm_ids(env: PayEnv) -> list[str]:
    queue = Queue(registry.CONFIRMATIONS, connection=env.redis)
    return [j for j in queue.job_ids if j.startswith("confirm-payment-")]


def one_event(factory: sessionmaker[Session]) -> PaymentEvent:
    with factory() as session:
        (event,) = session.scalars(select(PaymentEvent)).all()
        return event


def alerts(factory: sessionmaker[Session]) -> list[Alert]:
    with factory() as session:
        return list(session.scalars(select(Alert).where(Alert.kind.startswith("payment_callback"))))


def test_confirmations_and_initiations_have_queues_of_their_own() -> None:
    for name in ("confirm-payment", "poll-payment", "sweep-payments"):
        assert registry.spec(name).queue == registry.CONFIRMATIONS
    assert registry.spec("initiate-payment").queue == registry.PAYMENTS
    assert registry.spec("send-sms-batch").queue == registry.SMS
    assert len(set(registry.QUEUES)) == len(registry.QUEUES) == 5


def test_a_duplicate_callback_does_not_enqueue_its_confirm_job_again(
    env: PayEnv, session_factory: sessionmaker[Session]
) -> None:
    intent = accepted_intent(env, session_factory)
    callback = env.sandbox().decide(intent.reference, True)
    for _ in range(3):
        assert env.deliver(callback, work=False).status_code == 200
    event = one_event(session_factory)
    assert confirm_ids(env) == [f"confirm-payment-{event.id}"]  # once, not three times
    job = Job.fetch(f"confirm-payment-{event.id}", connection=env.redis)
    job.set_status(JobStatus.STARTED)  # running: a redelivery now does not enqueue it either
    env.redis.delete(Queue(registry.CONFIRMATIONS, connection=env.redis).key)
    assert env.deliver(callback, work=False).status_code == 200
    assert confirm_ids(env) == []
    job.set_status(JobStatus.FAILED)  # finished without applying it: enqueued again
    assert env.deliver(callback, work=False).status_code == 200
    assert confirm_ids(env) == [f"confirm-payment-{event.id}"]


def test_the_sweeper_gives_up_an_unapplied_callback_after_a_day_with_one_alert(
    env: PayEnv, session_factory: sessionmaker[Session]
) -> None:
    intent = accepted_intent(env, session_factory)
    env.deliver(env.sandbox().decide(intent.reference, True), work=False)
    env.redis.delete(Queue(registry.CONFIRMATIONS, connection=env.redis).key)
    env.redis.delete(f"rq:job:confirm-payment-{one_event(session_factory).id}")  # job lost
    env.clock.advance(minutes=2)
    sweep_payments()
    assert len(confirm_ids(env)) == 1  # a lost job is re-enqueued
    env.redis.delete(Queue(registry.CONFIRMATIONS, connection=env.redis).key)
    env.redis.delete(f"rq:job:confirm-payment-{one_event(session_factory).id}")
    env.clock.advance(seconds=GIVE_UP_AFTER.total_seconds())
    sweep_payments()
    sweep_payments()
    assert confirm_ids(env) == []
    assert one_event(session_factory).outcome == ABANDONED
    (alert,) = alerts(session_factory)
    assert alert.kind == "payment_callback_abandoned" and "24 h" in alert.detail


def test_the_sweeper_gives_up_after_its_re_enqueues_run_out(
    env: PayEnv, session_factory: sessionmaker[Session]
) -> None:
    intent = accepted_intent(env, session_factory)
    callback = env.sandbox().decide(intent.reference, True)
    env.deliver(callback, work=False)
    event_id = one_event(session_factory).id
    env.redis.delete(Queue(registry.CONFIRMATIONS, connection=env.redis).key)
    env.redis.delete(f"rq:job:confirm-payment-{event_id}")
    env.redis.set(f"{SWEEPS_KEY}:{event_id}", MAX_CONFIRM_SWEEPS)
    env.clock.advance(minutes=5)
    sweep_payments()
    assert confirm_ids(env) == []
    assert one_event(session_factory).outcome == ABANDONED
    assert [a.kind for a in alerts(session_factory)] == ["payment_callback_abandoned"]
    # A redelivery of an abandoned callback is a duplicate: nothing is enqueued.
    assert env.deliver(callback, work=False).status_code == 200
    assert confirm_ids(env) == []
    assert dt.timedelta(hours=1) < GIVE_UP_AFTER
