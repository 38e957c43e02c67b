"""End to end with the sandbox (issue 5; payments.md, ussd.md option 2, D6-D9): a member
dials and confirms, the worker initiates, the sandbox decides by itself
(GATEWAY_SANDBOX_AUTO=approve) and calls back by real HTTP into a running server, the
ledger is credited and allocated, option 1 shows the household paid (waiting for the first
payment, D9), and the receipt waits in the outbox. Also with Redis flushed mid-run."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.models import OutboxMessage
from tests.support import payments
from tests.support.dialogue import Phone
from tests.support.payments import (
    PHONE,
    PayEnv,
    effects,
    family,
    one_intent,
    sandbox_row,
)
from worker.jobs import payments as payment_jobs

JAN_5 = dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC)
served = payments.served  # the fixture: a gateway served over real HTTP


@pytest.fixture
def live(served: PayEnv) -> PayEnv:
    """The served gateway (tests.support.payments.served) on 5 January 2026."""
    served.clock.at = JAN_5
    return served


def pay_by_phone(env: PayEnv) -> None:
    reply = Phone(env.client, PHONE).walk("2", "1", "1")
    assert reply.end and "Demande de paiement de 18 000 FCFA envoyee" in reply


def sweep(env: PayEnv) -> int:
    from unittest import mock

    redis = mock.PropertyMock(return_value=env.redis)
    with mock.patch.object(type(env.context), "redis", new=redis):
        return payment_jobs.sweep_payments()


def assert_paid_once(env: PayEnv, factory: sessionmaker[Session], household_id: int) -> None:
    intent = one_intent(factory)
    assert intent.state == "SUCCEEDED" and intent.amount == 18000
    row = sandbox_row(factory, intent.reference)
    assert row is not None and (row.requests, row.status) == (1, "SUCCESSFUL")
    found = effects(factory, intent.reference, household_id)
    assert (found.payments, found.float_balance, found.receipts) == (1, 18000, 1)
    # D9: the first payment starts the waiting period (effective 05/01 + 60 days).
    reply = Phone(env.client, PHONE).walk("1")
    assert reply.lines[0] == "A JOUR jusqu'au 31/12/2026" or "couvert des le" in reply.text
    assert "couvert des le 06/03/2026" in reply.text
    with factory() as session:
        receipt = session.scalars(
            select(OutboxMessage).where(OutboxMessage.household_id == household_id)
        ).one()
    assert receipt.phone == PHONE and receipt.template in ("payment_receipt", "payment_partial")
    assert "18 000 FCFA" in receipt.text and "MM-" in receipt.text


def test_dial_pay_callback_ledger_coverage_receipt(
    live: PayEnv, session_factory: sessionmaker[Session]
) -> None:
    household_id, _ = family(session_factory, members=3)
    pay_by_phone(live)
    live.work()  # initiate, then the sandbox's decision and its HTTP callback
    assert_paid_once(live, session_factory, household_id)
    row = sandbox_row(session_factory, one_intent(session_factory).reference)
    assert row is not None and row.callbacks_sent == 1  # delivered by HTTP, not by a poll
    live.work()
    sweep(live)
    live.work()  # nothing left to do: still one effect
    assert_paid_once(live, session_factory, household_id)


def test_redis_flushed_mid_run_same_ledger_after_the_sweeper(
    live: PayEnv, session_factory: sessionmaker[Session]
) -> None:
    """architecture.md: losing Redis costs latency, never money. The initiate job is lost
    with Redis; the sweeper finds the CREATED intent and the run ends as without the loss."""
    household_id, _ = family(session_factory, members=3)
    pay_by_phone(live)
    live.redis.flushdb()
    live.work()
    assert one_intent(session_factory).state == "CREATED"
    live.clock.advance(minutes=3)
    assert sweep(live) == 1
    live.work()
    assert_paid_once(live, session_factory, household_id)


def test_redis_flushed_after_initiation_polls_settle_it(
    live: PayEnv, session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis lost after the provider accepted (the sandbox's own decision job with it):
    the sweeper has the sandbox decide and the status poll or the callback applies it once."""
    monkeypatch.setattr(payment_jobs, "SANDBOX_DELAY_S", 3600)  # the decision job waits...
    household_id, _ = family(session_factory, members=3)
    pay_by_phone(live)
    live.work()
    assert one_intent(session_factory).state == "PENDING"
    live.redis.flushdb()  # ...and is lost
    monkeypatch.setattr(payment_jobs, "SANDBOX_FORGOTTEN_S", 0)
    live.clock.advance(minutes=5)
    sweep(live)
    live.work()
    live.clock.advance(minutes=5)
    sweep(live)
    live.work()
    assert_paid_once(live, session_factory, household_id)
