"""End to end with CinetPay and MTN MoMo against their local fakes (issue 5, acceptance 1):
a member dials option 2 and confirms, the worker initiates through the real adapter, the fake
calls our callback URL over HTTP, the worker confirms by a status query (both providers'
callbacks are confirmed before money moves), the ledger is credited and allocated, option 1
shows the household paid (waiting, D9) and the receipt waits in the outbox."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from gateway.clock import FixedClock
from gateway.models import Mutual, OutboxMessage, PaymentCallback
from gateway.services.ledger import posting
from tests.support.dialogue import Phone
from tests.support.fakes.cinetpay_fake import CinetPayFake
from tests.support.fakes.mtnmomo_fake import MtnMomoFake
from tests.support.payments import (
    PHONE,
    PayEnv,
    build_env,
    effects,
    family,
    free_port,
    one_intent,
    serve,
)

JAN_5 = dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC)


def provider_env(name: str, cinetpay: CinetPayFake, mtnmomo: MtnMomoFake) -> dict[str, str]:
    if name == "cinetpay":
        return {
            "CINETPAY_API_KEY": cinetpay.api_key,
            "CINETPAY_SECRET_KEY": cinetpay.secret_key,
            "CINETPAY_BASE_URL": cinetpay.url,
        }
    return {
        "MTNMOMO_SUBSCRIPTION_KEY": mtnmomo.subscription_key,
        "MTNMOMO_API_USER": mtnmomo.api_user,
        "MTNMOMO_API_KEY": mtnmomo.api_key,
        "MTNMOMO_TARGET_ENVIRONMENT": mtnmomo.target_environment,
        "MTNMOMO_BASE_URL": mtnmomo.url,
    }


@pytest.fixture(params=["cinetpay", "mtnmomo"])
def live(
    request: pytest.FixtureRequest,
    database_url: str,
    redis_client: redis.Redis[bytes],
    tmp_path: Path,
    clock: FixedClock,
    session_factory: sessionmaker[Session],
    cinetpay_fake: CinetPayFake,
    mtnmomo_fake: MtnMomoFake,
) -> Iterator[tuple[str, PayEnv]]:
    """A gateway served over real HTTP (the fakes call it back) with the token set."""
    name = str(request.param)
    clock.at = JAN_5
    port = free_port()
    env = build_env(
        database_url,
        redis_client,
        tmp_path / "var",
        clock,
        session_factory,
        GATEWAY_PUBLIC_URL=f"http://127.0.0.1:{port}",
        GATEWAY_USSD_TOKEN="cb-token",
        **provider_env(name, cinetpay_fake, mtnmomo_fake),
    )
    server = serve(env.app, port)
    yield name, env
    server.stop()
    env.close()


def use_provider(factory: sessionmaker[Session], name: str, site_id: str) -> int:
    household_id, _ = family(factory, members=3)
    settings: dict[str, Any] = {"site_id": site_id} if name == "cinetpay" else {}
    with factory.begin() as session:
        session.execute(update(Mutual).values(payment_provider=name, payment_settings=settings))
    return household_id


def wait_for(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def callbacks(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(PaymentCallback)) or 0


def test_dial_pay_provider_callback_ledger_coverage_receipt(
    live: tuple[str, PayEnv],
    session_factory: sessionmaker[Session],
    cinetpay_fake: CinetPayFake,
    mtnmomo_fake: MtnMomoFake,
) -> None:
    name, env = live
    household_id = use_provider(session_factory, name, cinetpay_fake.site_id)
    if name == "cinetpay":
        cinetpay_fake.default.notify, cinetpay_fake.default.notify_delay = 2, 0.05
    else:
        mtnmomo_fake.default.callbacks, mtnmomo_fake.default.callback_delay = 2, 0.05
    reply = Phone(env.client, PHONE, query="?token=cb-token").walk("2", "1", "1")
    assert reply.end and "Demande de paiement de 18 000 FCFA envoyee" in reply
    env.work()  # initiate through the adapter: one request to the fake
    intent = one_intent(session_factory)
    assert intent.provider == name and intent.state == "PENDING"
    wait_for(lambda: callbacks(session_factory) >= 2)  # the fake called us back, twice
    env.work()  # confirm-payment: a status query, then the effect once
    intent = one_intent(session_factory)
    assert intent.state == "SUCCEEDED"
    found = effects(session_factory, intent.reference, household_id)
    assert (found.payments, found.receipts) == (1, 1)
    with session_factory() as session:
        float_account = f"asset:float:{name}"  # money at the provider that collected it
        assert posting.balance(session, intent.mutual_id, float_account) == 18000
    reply = Phone(env.client, PHONE, query="?token=cb-token").walk("1")
    assert "couvert des le 06/03/2026" in reply.text  # D9: first payment, 60 days waiting
    with session_factory() as session:
        receipt = session.scalars(
            select(OutboxMessage).where(OutboxMessage.household_id == household_id)
        ).one()
    assert "18 000 FCFA" in receipt.text
    fake = cinetpay_fake if name == "cinetpay" else mtnmomo_fake
    initiations = [r for r in fake.requests if r.method == "POST" and "token" not in r.path]
    initiations = [r for r in initiations if not r.path.endswith("/check")]
    assert len(initiations) == 1, [r.path for r in fake.requests]
