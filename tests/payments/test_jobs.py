"""Payment jobs through RQ (payments.md reliability): the intent is committed before the
provider is called and its reference reused, so retries (and a worker killed by SIGKILL
between the call and the commit) never make a second provider request or a second ledger
effect; unknown outcomes are polled, never re-sent; the sweeper re-enqueues what a lost
enqueue dropped; a status query without answer backs off; and the CLI."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from click.testing import CliRunner
from rq import Queue
from sqlalchemy.orm import Session, sessionmaker

from gateway.cli import main
from gateway.models import Household, PaymentIntent
from gateway.services.payments import (
    InitiateResult,
    Initiation,
    PaymentRequest,
    ProviderError,
    ProviderState,
    StatusResult,
)
from gateway.services.payments.intents import create_intent
from tests.support.payments import (
    PHONE,
    PayEnv,
    decide_at_once,
    effects,
    env,
    family,
    sandbox_row,
)
from worker import registry
from worker.jobs.payments import sweep_payments

__all__ = ["env"]
from tests.support.paths import ROOT
from tests.support.redis_url import redis_url_of


def new_intent(env: PayEnv, factory: sessionmaker[Session], amount: int = 6000) -> PaymentIntent:
    household_id, _ = family(factory, members=1)
    with factory.begin() as session:
        household = session.get_one(Household, household_id)
        intent = create_intent(
            session, household=household, amount=amount, msisdn=PHONE, now=env.clock.now()
        )
        session.flush()
        session.expunge(intent)
    return intent


def initiate(env: PayEnv, intent: PaymentIntent) -> None:
    registry.enqueue(env.redis, "initiate-payment", str(intent.id))
    env.work()


def load(factory: sessionmaker[Session], intent_id: int) -> PaymentIntent:
    with factory() as session:
        return session.get_one(PaymentIntent, intent_id)


class Fake:
    """A provider that records calls; `initiate` checks the intent is already committed."""

    name = "sandbox"

    def __init__(self, env: PayEnv, initiate_error: Exception | None = None) -> None:
        self.env, self.initiate_error = env, initiate_error
        self.initiated: list[str] = []
        self.status_answer: StatusResult | Exception = StatusResult(ProviderState.PENDING)

    def initiate(self, request: PaymentRequest) -> InitiateResult:
        with self.env.factory() as session:  # another connection: sees committed rows only
            found = session.query(PaymentIntent).filter_by(reference=request.reference).one()
            assert found.initiate_attempts == 1, "the attempt is committed before the call"
        self.initiated.append(request.reference)
        if self.initiate_error is not None:
            raise self.initiate_error
        return InitiateResult(Initiation.ACCEPTED, f"T-{request.reference[:8]}")

    def status(self, request: PaymentRequest) -> StatusResult:
        if isinstance(self.status_answer, Exception):
            raise self.status_answer
        return self.status_answer

    def parse_callback(self, request: Any) -> None:
        return None


def use(env: PayEnv, fake: Fake) -> None:
    env.context.payment_providers["sandbox"] = fake


def test_intent_first_and_one_request_whatever_the_retries(
    env: PayEnv, session_factory: sessionmaker[Session]
) -> None:
    """payments.md intent first: committed before the call, one reference, one request
    even when the initiate job runs three times."""
    intent = new_intent(env, session_factory)
    for _ in range(3):
        initiate(env, intent)
    row = sandbox_row(session_factory, intent.reference)
    assert row is not None and row.requests == 1 and row.amount == 6000
    found = load(session_factory, intent.id)
    assert (found.state, found.initiate_attempts) == ("PENDING", 1)
    assert found.provider_txn_id == row.provider_txn_id
    assert row.notify_url == "http://127.0.0.1:9/payments/sandbox/callback"


def test_intent_is_committed_before_the_provider_call(
    env: PayEnv, session_factory: sessionmaker[Session]
) -> None:
    fake = Fake(env)
    use(env, fake)
    intent = new_intent(env, session_factory)
    initiate(env, intent)
    assert fake.initiated == [intent.reference]
    assert load(session_factory, intent.id).state == "PENDING"


def test_unknown_outcome_is_polled_never_resent(
    env: PayEnv, session_factory: sessionmaker[Session]
) -> None:
    """A timeout after the request left: UNKNOWN; a retry sends nothing; the status query
    (the truth) settles it and the money is credited once."""
    fake = Fake(env, initiate_error=TimeoutError("read timed out"))
    use(env, fake)
    intent = new_intent(env, session_factory)
    initiate(env, intent)
    assert load(session_factory, intent.id).state == "UNKNOWN"
    initiate(env, intent)
    assert fake.initiated == [intent.reference]
    fake.status_answer = StatusResult(ProviderState.SUCCEEDED, 6000, "XOF", "T-9", PHONE)
    for _ in range(2):
        registry.enqueue(env.redis, "poll-payment", str(intent.id))
        env.work()
    assert load(session_factory, intent.id).state == "SUCCEEDED"
    found = effects(session_factory, intent.reference, intent.household_id)
    assert (found.payments, found.float_balance, found.receipts) == (1, 6000, 1)


def test_status_without_answer_backs_off(
    env: PayEnv, session_factory: sessionmaker[Session]
) -> None:
    fake = Fake(env)
    use(env, fake)
    intent = new_intent(env, session_factory)
    initiate(env, intent)
    before = load(session_factory, intent.id)
    fake.status_answer = ProviderError("502 from the provider")
    registry.enqueue(env.redis, "poll-payment", str(intent.id))
    env.work()
    after = load(session_factory, intent.id)
    assert after.state == "PENDING" and after.polls == before.polls + 1
    assert after.next_poll_at is not None and after.next_poll_at > env.clock.now()


def test_sweeper_polls_a_lost_callback_once(
    env: PayEnv, session_factory: sessionmaker[Session]
) -> None:
    """The callback never came: the sweeper's poll finds the sandbox's decision; a second
    sweep does not queue a second poll; the late callback is then a duplicate."""
    intent = new_intent(env, session_factory)
    initiate(env, intent)
    callback = env.sandbox().decide(intent.reference, True)  # decided, never delivered
    env.clock.advance(minutes=5)
    assert payment_jobs_sweep(env) == 1
    assert payment_jobs_sweep(env) == 0  # the poll is still waiting in the queue
    env.work()
    assert load(session_factory, intent.id).state == "SUCCEEDED"
    assert env.deliver(callback).status_code == 200  # the late callback changes nothing
    found = effects(session_factory, intent.reference, intent.household_id)
    assert (found.payments, found.float_balance, found.receipts) == (1, 6000, 1)


def expired_intent(
    env: PayEnv, factory: sessionmaker[Session], after: dt.timedelta
) -> tuple[Fake, PaymentIntent, dt.datetime]:
    """An intent accepted, still pending at the provider, polled `after` its expiry."""
    fake = Fake(env)
    use(env, fake)
    intent = new_intent(env, factory)
    initiate(env, intent)
    expires_at = load(factory, intent.id).expires_at
    env.clock.at = expires_at + after
    registry.enqueue(env.redis, "poll-payment", str(intent.id))
    env.work()
    return fake, intent, expires_at


def test_an_expired_intent_is_checked_late_and_a_late_success_credited(
    env: PayEnv, session_factory: sessionmaker[Session]
) -> None:
    """No callback ever: the member approved after our 30 minutes. Late checks at expiry
    + 1 h and + 24 h find the success (applied once, flagged late) without a statement."""
    fake, intent, expires_at = expired_intent(env, session_factory, dt.timedelta(minutes=1))
    expired = load(session_factory, intent.id)
    assert expired.state == "EXPIRED"
    assert expired.next_poll_at == expires_at + dt.timedelta(hours=1)
    env.clock.at = expires_at + dt.timedelta(minutes=59)
    assert payment_jobs_sweep(env) == 0  # not yet due
    fake.status_answer = StatusResult(
        ProviderState.SUCCEEDED, amount=6000, currency="XOF", provider_txn_id="TX-LATE"
    )
    env.clock.at = expires_at + dt.timedelta(hours=1)
    assert payment_jobs_sweep(env) == 1
    env.work()
    late = load(session_factory, intent.id)
    assert (late.state, late.flag, late.next_poll_at) == ("SUCCEEDED", "late", None)
    found = effects(session_factory, intent.reference, intent.household_id)
    assert (found.payments, found.float_balance) == (1, 6000)
    env.clock.at = expires_at + dt.timedelta(days=2)
    assert payment_jobs_sweep(env) == 0


def test_late_checks_stop_after_the_last_or_a_final_answer(
    env: PayEnv, session_factory: sessionmaker[Session]
) -> None:
    fake, intent, expires_at = expired_intent(env, session_factory, dt.timedelta(0))
    env.clock.at = expires_at + dt.timedelta(hours=1)
    fake.status_answer = ProviderError("502 from the provider")  # no answer: the next check
    assert payment_jobs_sweep(env) == 1
    env.work()
    assert load(session_factory, intent.id).next_poll_at == expires_at + dt.timedelta(hours=24)
    env.clock.at = expires_at + dt.timedelta(hours=24)
    fake.status_answer = StatusResult(ProviderState.FAILED, reason="declined")
    assert payment_jobs_sweep(env) == 1
    env.work()
    final = load(session_factory, intent.id)
    assert (final.state, final.next_poll_at, final.payment_id) == ("EXPIRED", None, None)
    env.clock.at = expires_at + dt.timedelta(days=3)
    assert payment_jobs_sweep(env) == 0


def payment_jobs_sweep(env: PayEnv) -> int:
    """The sweep job run in-process (the scheduler enqueues it every minute)."""
    from unittest import mock

    redis = mock.PropertyMock(return_value=env.redis)
    with mock.patch.object(type(env.context), "redis", new=redis):
        return sweep_payments()


def test_sweeper_initiates_a_lost_enqueue(
    env: PayEnv, session_factory: sessionmaker[Session]
) -> None:
    """Redis lost the initiate job: the CREATED intent is initiated by the sweeper."""
    intent = new_intent(env, session_factory)
    assert payment_jobs_sweep(env) == 0  # too fresh: its own job may still come
    env.clock.advance(minutes=3)
    assert payment_jobs_sweep(env) == 1
    env.work()
    assert load(session_factory, intent.id).state == "PENDING"
    row = sandbox_row(session_factory, intent.reference)
    assert row is not None and row.requests == 1


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    import redis
    from rq import Queue
    from gateway.providers.payments import sandbox
    from gateway.settings import Settings
    from worker import jobs
    from worker.rq_workers import SimpleWorker

    original = sandbox.SandboxProvider.initiate

    def initiate_then_die(self, request):
        result = original(self, request)  # the provider has the request...
        os.kill(os.getpid(), signal.SIGKILL)  # ...and the worker dies before recording it

    sandbox.SandboxProvider.initiate = initiate_then_die
    settings = Settings.from_env()
    jobs.configure(settings)
    connection = redis.Redis.from_url(settings.redis_url)
    SimpleWorker([Queue("payments", connection=connection)], connection=connection).work(
        burst=True
    )
    """
)


def test_worker_killed_between_call_and_commit(
    env: PayEnv, session_factory: sessionmaker[Session]
) -> None:
    """A real worker process is SIGKILLed right after the provider accepted the request:
    the retry (the sweeper's) sends no second request, the poll finds it, the callback
    credits once."""
    intent = new_intent(env, session_factory)
    registry.enqueue(env.redis, "initiate-payment", str(intent.id))
    child_env = {
        **os.environ,
        "DATABASE_URL": env.settings.database_url,
        "REDIS_URL": redis_url_of(env.redis),
        "GATEWAY_ENV": "test",
        "GATEWAY_VAR_DIR": str(env.settings.var_dir),
        "GATEWAY_SANDBOX_AUTO": "off",
        "GATEWAY_PUBLIC_URL": "http://127.0.0.1:9",
    }
    done = subprocess.run(
        [sys.executable, "-c", KILLER], cwd=ROOT, env=child_env, capture_output=True, timeout=120
    )
    assert done.returncode == -9, done.stderr.decode()[-2000:]
    row = sandbox_row(session_factory, intent.reference)
    assert row is not None and row.requests == 1
    found = load(session_factory, intent.id)
    assert (found.state, found.initiate_attempts) == ("CREATED", 1)
    env.clock.advance(minutes=3)
    payment_jobs_sweep(env)  # initiate again: the earlier attempt makes it UNKNOWN
    env.work()
    assert load(session_factory, intent.id).state == "UNKNOWN"
    env.clock.advance(minutes=5)
    payment_jobs_sweep(env)  # poll: the sandbox has it (PENDING)
    env.work()
    assert load(session_factory, intent.id).state == "PENDING"
    env.deliver(env.sandbox().decide(intent.reference, True))
    env.deliver(env.sandbox().decide(intent.reference, True))
    row = sandbox_row(session_factory, intent.reference)
    assert row is not None and row.requests == 1
    found_effects = effects(session_factory, intent.reference, intent.household_id)
    assert (found_effects.payments, found_effects.float_balance) == (1, 6000)
    assert found_effects.receipts == 1


def test_sandbox_decision_retried_when_the_gateway_does_not_answer(
    env: PayEnv, session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """GATEWAY_SANDBOX_AUTO=approve with nothing listening at the notify URL: the decision
    is kept (status polling will see it) and the callback job is retried later."""
    decide_at_once(monkeypatch)
    object.__setattr__(env.settings, "sandbox_auto", "approve")
    intent = new_intent(env, session_factory)
    initiate(env, intent)
    row = sandbox_row(session_factory, intent.reference)
    assert row is not None and row.status == "SUCCESSFUL" and row.callbacks_sent == 0
    scheduled = Queue(registry.PAYMENTS, connection=env.redis).scheduled_job_registry
    assert f"sandbox-decide-{intent.reference}" in scheduled.get_job_ids()


def cli(env: PayEnv, *args: str) -> Any:
    environ = {
        "DATABASE_URL": env.settings.database_url,
        "REDIS_URL": redis_url_of(env.redis),
        "GATEWAY_ENV": "test",
        "GATEWAY_VAR_DIR": str(env.settings.var_dir),
    }
    return CliRunner().invoke(main, ["payments", *args], env=environ)


def test_cli_intents_and_sandbox_decisions(
    env: PayEnv, session_factory: sessionmaker[Session]
) -> None:
    """interfaces.md: `gateway payments intents [--household N] [--json]`; `gateway payments
    sandbox approve|reject REFERENCE` exits 1 with a reason when it cannot."""
    intent = new_intent(env, session_factory)
    initiate(env, intent)
    number = load_household_number(session_factory, intent.household_id)
    result = cli(env, "intents", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert rows[0]["reference"] == intent.reference
    assert {k: rows[0][k] for k in ("household", "amount", "msisdn", "provider", "state")} == {
        "household": number,
        "amount": 6000,
        "msisdn": PHONE,
        "provider": "sandbox",
        "state": "PENDING",
    }
    assert dt.datetime.fromisoformat(rows[0]["created_at"])
    assert json.loads(cli(env, "intents", "--household", "nope", "--json").output) == []
    assert intent.reference in cli(env, "intents", "--household", number).output
    refused = cli(env, "sandbox", "approve", "no-such-reference")
    assert refused.exit_code == 1 and "no sandbox payment request" in refused.output
    unreachable = cli(env, "sandbox", "reject", intent.reference)
    assert unreachable.exit_code == 1 and "status polling" in unreachable.output
    again = cli(env, "sandbox", "approve", intent.reference)
    assert again.exit_code == 1 and "already FAILED" in again.output


def load_household_number(factory: sessionmaker[Session], household_id: int) -> str:
    with factory() as session:
        return session.get_one(Household, household_id).number
