"""`GET|POST /payments/<provider>/callback` with the sandbox provider (payments.md,
interfaces.md HTTP): raw delivery stored first, signed events applied once, forged ones
move no money (401), malformed ones get a 400 with the reason, unknown references go to
suspense, a ping is a 200, the database down is a 503; and the sandbox's parser itself."""

from __future__ import annotations

import json
import threading
import urllib.request
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from gateway.models import Household, PaymentCallback, PaymentEvent, PaymentIntent, SuspenseItem
from gateway.providers.payments.sandbox import SIGNATURE_HEADER, SandboxProvider, sign
from gateway.runtime import Runtime
from gateway.services.payments import (
    CallbackEvent,
    CallbackRejected,
    CallbackRequest,
    ForgedCallback,
    ProviderState,
)
from gateway.services.payments.intents import create_intent
from gateway.settings import Settings
from tests.support.payments import PHONE, PayEnv, effects, env, family, serve
from worker.jobs.payments import initiate_payment

__all__ = ["env"]
SECRET = "dev-sandbox-secret"
PATH = "/payments/sandbox/callback"


def body(**fields: Any) -> bytes:
    data = {
        "reference": "ref-1",
        "provider_txn_id": "SBX-1",
        "status": "SUCCESSFUL",
        "amount": 6000,
        "currency": "XOF",
        "msisdn": PHONE,
    }
    data.update(fields)
    return json.dumps({k: v for k, v in data.items() if v is not ...}).encode()


def signed(raw: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, raw)}


def intent_for(env: PayEnv, factory: sessionmaker[Session], amount: int = 6000) -> PaymentIntent:
    """A household with an intent already accepted by the sandbox (PENDING)."""
    household_id, _ = family(factory, members=1)
    with factory.begin() as session:
        household = session.get_one(Household, household_id)
        intent = create_intent(
            session, household=household, amount=amount, msisdn=PHONE, now=env.clock.now()
        )
        session.flush()
        intent_id = intent.id
    initiate_payment(str(intent_id))
    with factory() as session:
        return session.get_one(PaymentIntent, intent_id)


def count(factory: sessionmaker[Session], model: type) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


# --- the sandbox's parser -----------------------------------------------------------------


def parse(raw: bytes, headers: dict[str, str] | None = None, method: str = "POST") -> Any:
    provider = SandboxProvider(Runtime(Settings()))
    request = CallbackRequest(method, headers if headers is not None else signed(raw), {}, {}, raw)
    return provider.parse_callback(request)


def test_sandbox_parses_a_signed_callback() -> None:
    event = parse(body())
    assert event == CallbackEvent(
        event_key="SBX-1:SUCCESSFUL",
        reference="ref-1",
        provider_txn_id="SBX-1",
        state=ProviderState.SUCCEEDED,
        amount=6000,
        currency="XOF",
        msisdn=PHONE,
        verified=True,
        needs_confirmation=False,
    )
    assert parse(body(status="FAILED")).state is ProviderState.FAILED
    assert parse(body(amount="6000")).amount == 6000  # digits as a string are whole francs


@pytest.mark.parametrize(
    "headers",
    [{}, {SIGNATURE_HEADER: ""}, {SIGNATURE_HEADER: "00" * 32}, signed(body(), "other-secret")],
)
def test_sandbox_refuses_bad_signatures(headers: dict[str, str]) -> None:
    with pytest.raises(ForgedCallback, match=SIGNATURE_HEADER):
        parse(body(), headers)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json", "JSON"),
        (b"\xff\xfe", "JSON"),
        (b"[1, 2]", "JSON object"),
        (body(status="OK"), "status"),
        (body(reference=...), "reference is required"),
        (body(reference=""), "reference is required"),
        (body(reference="r" * 65), "reference longer"),
        (body(provider_txn_id=12), "provider_txn_id"),
        (body(amount="100.5"), "whole number"),
        (body(amount=100.5), "whole number"),
        (
            b'{"reference":"r","provider_txn_id":"t","status":"SUCCESSFUL","amount":1e3,'
            b'"currency":"XOF"}',
            "whole number",
        ),
        (body(amount="1e3"), "whole number"),
        (body(amount=-5), "between 1"),
        (body(amount=0), "between 1"),
        (body(amount=10**15), "between 1"),
        (body(amount=True), "whole number"),
        (body(amount=...), "whole number"),
        (body(currency="xof"), "currency"),
        (body(msisdn="70123412"), "msisdn"),
    ],
)
def test_sandbox_rejects_malformed_callbacks(raw: bytes, reason: str) -> None:
    with pytest.raises(CallbackRejected, match=reason):
        parse(raw)


def test_sandbox_get_without_body_is_a_ping() -> None:
    assert parse(b"", {}, method="GET") is None


# --- the endpoint ---------------------------------------------------------------------------


def test_signed_success_applied_once(env: PayEnv, session_factory: sessionmaker[Session]) -> None:
    """payments.md exactly-once: the callback credits and allocates once, a receipt is
    queued; redeliveries answer 2xx and change nothing."""
    intent = intent_for(env, session_factory)
    callback = env.sandbox().decide(intent.reference, True)
    answer = env.deliver(callback, work=False)
    assert answer.status_code == 200 and answer.get_data(as_text=True) == "OK queued\n"
    with session_factory() as session:  # 2xx fast: the effect is the worker's
        assert session.get_one(PaymentIntent, intent.id).state == "PENDING"
    env.work()
    for _ in range(3):
        again = env.deliver(callback)
        assert again.status_code == 200 and "duplicate" in again.get_data(as_text=True)
    with session_factory() as session:
        assert session.get_one(PaymentIntent, intent.id).state == "SUCCEEDED"
        outcomes = list(session.scalars(select(PaymentCallback.outcome)))
    assert outcomes == ["event", "duplicate", "duplicate", "duplicate"]
    found = effects(session_factory, intent.reference, intent.household_id)
    assert (found.payments, found.float_balance, found.receipts) == (1, 6000, 1)


def test_signed_failure_fails_the_intent(
    env: PayEnv, session_factory: sessionmaker[Session]
) -> None:
    intent = intent_for(env, session_factory)
    assert env.deliver(env.sandbox().decide(intent.reference, False)).status_code == 200
    with session_factory() as session:
        assert session.get_one(PaymentIntent, intent.id).state == "FAILED"
    found = effects(session_factory, intent.reference, intent.household_id)
    assert (found.payments, found.float_balance, found.failures) == (0, 0, 1)


def test_one_commit_per_callback(env: PayEnv, session_factory: sessionmaker[Session]) -> None:
    """Raw delivery, verdict and event in one transaction: one commit (a commit is the
    endpoint's largest cost), for an event, a duplicate, a forgery and a ping alike."""
    intent = intent_for(env, session_factory)
    callback = env.sandbox().decide(intent.reference, True)
    commits: list[object] = []
    engine = env.app.extensions["gateway"].engine

    def counted(conn: object) -> None:
        commits.append(conn)

    event.listen(engine, "commit", counted)
    try:
        answers = [env.deliver(callback, work=False).status_code for _ in range(2)]
        raw = body(reference=intent.reference)
        answers.append(env.client.post(PATH, data=raw, headers=signed(raw, "guessed")).status_code)
        answers.append(env.client.get(PATH).status_code)
    finally:
        event.remove(engine, "commit", counted)
    assert answers == [200, 200, 401, 200]
    assert len(commits) == 4
    with session_factory() as session:
        outcomes = list(session.scalars(select(PaymentCallback.outcome)))
    assert outcomes == ["event", "duplicate", "forged", "ping"]


def test_a_failure_after_the_raw_delivery_still_keeps_it(
    env: PayEnv, session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug or a lost database past the raw delivery: the delivery is stored on its own
    (outcome `error`), nothing else is, and the provider is told to try again."""

    intent = intent_for(env, session_factory)
    callback = env.sandbox().decide(intent.reference, True)

    def broken(*_args: object, **_kwargs: object) -> None:
        raise OperationalError("INSERT", {}, Exception("connection lost"))

    monkeypatch.setattr("gateway.services.payments.record_event", broken)
    answer = env.deliver(callback, work=False)
    assert answer.status_code == 503 and "try again" in answer.get_data(as_text=True)
    monkeypatch.setattr("gateway.services.payments.record_event", lambda *_a, **_k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        env.deliver(callback, work=False)
    with session_factory() as session:
        assert list(session.scalars(select(PaymentCallback.outcome))) == ["error", "error"]
    assert count(session_factory, PaymentEvent) == 0


def test_forged_callback_moves_no_money(
    env: PayEnv, session_factory: sessionmaker[Session]
) -> None:
    """A bad signature: 401, the raw delivery kept (marked forged), nothing else."""
    intent = intent_for(env, session_factory)
    raw = body(reference=intent.reference, provider_txn_id=intent.provider_txn_id)
    answer = env.client.post(PATH, data=raw, headers=signed(raw, "guessed"))
    assert answer.status_code == 401 and SIGNATURE_HEADER in answer.get_data(as_text=True)
    answer = env.client.post(PATH, data=raw, headers={"Content-Type": "application/json"})
    assert answer.status_code == 401
    with session_factory() as session:
        assert session.get_one(PaymentIntent, intent.id).state == "PENDING"
        assert list(session.scalars(select(PaymentCallback.outcome))) == ["forged", "forged"]
    assert count(session_factory, PaymentEvent) == 0
    assert effects(session_factory, intent.reference, intent.household_id).float_balance == 0


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{", "JSON"),
        (body(amount="100.5"), "whole number"),
        (body(amount="1e3"), "whole number"),
        (body(amount=-100), "between 1"),
        (body(amount=10**20), "between 1"),
        (body(status="PAID"), "status"),
    ],
)
def test_malformed_callbacks_get_400_with_a_reason(
    env: PayEnv, session_factory: sessionmaker[Session], raw: bytes, reason: str
) -> None:
    answer = env.client.post(PATH, data=raw, headers=signed(raw))
    assert answer.status_code == 400 and reason in answer.get_data(as_text=True)
    with session_factory() as session:
        assert list(session.scalars(select(PaymentCallback.outcome))) == ["rejected"]
    assert count(session_factory, PaymentEvent) == count(session_factory, SuspenseItem) == 0


def test_unknown_reference_goes_to_suspense(
    env: PayEnv, session_factory: sessionmaker[Session]
) -> None:
    """payments.md: verified money with no intent of ours: 2xx, suspense, never a member."""
    family(session_factory)
    raw = body(reference="not-ours", provider_txn_id="SBX-STRAY")
    answer = env.client.post(PATH, data=raw, headers=signed(raw))
    assert answer.status_code == 200 and "queued" in answer.get_data(as_text=True)
    env.work()
    with session_factory() as session:
        item = session.scalars(select(SuspenseItem)).one()
    assert (item.reason, item.amount, item.reference) == ("unknown_reference", 6000, "not-ours")
    assert env.client.post(PATH, data=raw, headers=signed(raw)).status_code == 200
    assert count(session_factory, SuspenseItem) == 1


def test_other_amount_is_never_allocated(
    env: PayEnv, session_factory: sessionmaker[Session]
) -> None:
    """payments.md: an amount other than the intent's goes to suspense, not to the member."""
    intent = intent_for(env, session_factory)
    raw = body(reference=intent.reference, provider_txn_id=intent.provider_txn_id, amount=500)
    answer = env.client.post(PATH, data=raw, headers=signed(raw))
    assert answer.status_code == 200 and "queued" in answer.get_data(as_text=True)
    env.work()
    with session_factory() as session:
        item = session.scalars(select(SuspenseItem)).one()
    assert (item.reason, item.amount) == ("amount_mismatch", 500)
    assert effects(session_factory, intent.reference, intent.household_id).payments == 0


def test_ping_unknown_provider_guard_and_size(env: PayEnv, make_app: Any) -> None:
    """GET ping 200; unknown provider 404; the callback token (403); oversized body 413."""
    assert env.client.get(PATH).status_code == 200
    assert env.client.post("/payments/nobody/callback", data=b"{}").status_code == 404
    guarded = make_app(GATEWAY_USSD_TOKEN="s3cret").test_client()
    raw = body()
    assert guarded.post(PATH, data=raw, headers=signed(raw)).status_code == 403
    assert guarded.post(PATH + "?token=wrong", data=raw, headers=signed(raw)).status_code == 403
    assert guarded.get(PATH + "?token=s3cret").status_code == 200
    big = b"x" * (65 * 1024)
    assert env.client.post(PATH, data=big, headers=signed(big)).status_code == 413


def test_database_down_is_503(make_app: Any) -> None:
    app = make_app(DATABASE_URL="postgresql://nobody@127.0.0.1:1/none")
    raw = body()
    answer = app.test_client().post(PATH, data=raw, headers=signed(raw))
    assert answer.status_code == 503 and "database" in answer.get_data(as_text=True)


class Confirming(SandboxProvider):
    """A sandbox whose callbacks are untrusted (like CinetPay's or MTN's): confirm first."""

    def parse_callback(self, request: CallbackRequest) -> CallbackEvent | None:
        event = super().parse_callback(request)
        if event is None:
            return None
        return CallbackEvent(**{**event.__dict__, "verified": False, "needs_confirmation": True})


def test_unconfirmed_event_is_confirmed_by_the_worker(
    env: PayEnv, session_factory: sessionmaker[Session]
) -> None:
    """An event that needs confirmation: 2xx at once, nothing moves; the confirm-payment job
    asks the provider's status (the truth) and applies it once."""
    web = env.app.extensions["gateway"]
    web.payment_providers["sandbox"] = Confirming(web)
    intent = intent_for(env, session_factory)
    callback = env.sandbox().decide(intent.reference, True)
    answer = env.deliver(callback, work=False)
    assert answer.status_code == 200 and "queued" in answer.get_data(as_text=True)
    assert effects(session_factory, intent.reference, intent.household_id).payments == 0
    env.work()
    assert env.deliver(callback).status_code == 200  # a redelivery after: nothing more
    env.work()
    found = effects(session_factory, intent.reference, intent.household_id)
    assert (found.payments, found.float_balance, found.receipts) == (1, 6000, 1)
    with session_factory() as session:
        event = session.scalars(select(PaymentEvent).where(PaymentEvent.source == "callback")).one()
    assert event.outcome == "applied"


@pytest.mark.postgres
def test_twenty_identical_callbacks_in_parallel_apply_once(
    env: PayEnv, session_factory: sessionmaker[Session]
) -> None:
    """payments.md exactly-once under concurrency: 20 threads post the same signed callback
    to a real threaded server on PostgreSQL: all 2xx, one ledger transaction, one receipt."""
    intent = intent_for(env, session_factory)
    callback = env.sandbox().decide(intent.reference, True)
    server = serve(env.app)
    url = server.url + PATH
    statuses: list[int] = []
    barrier = threading.Barrier(20)

    def send() -> None:
        request = urllib.request.Request(url, callback.body, callback.headers, method="POST")
        barrier.wait(timeout=10)
        with urllib.request.urlopen(request, timeout=30) as answer:
            statuses.append(answer.status)

    threads = [threading.Thread(target=send) for _ in range(20)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        server.stop()
    assert statuses == [200] * 20
    env.work()  # one confirm-payment job: the event was recorded once
    found = effects(session_factory, intent.reference, intent.household_id)
    assert (found.payments, found.float_balance, found.receipts) == (1, 6000, 1)
    assert count(session_factory, PaymentCallback) == 20
    assert count(session_factory, PaymentEvent) == 1


def test_reserialised_body_is_forged(env: PayEnv) -> None:
    """The signature covers the raw body as sent: the same JSON re-serialised is forged."""
    raw = body()
    reordered = json.dumps(json.loads(raw), indent=1).encode()
    answer = env.client.post(PATH, data=reordered, headers=signed(raw))
    assert answer.status_code == 401
