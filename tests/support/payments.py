"""Shared pieces of the payment tests: settings, the web app and the worker context on the
test database and Redis (one FixedClock), a real HTTP server for the sandbox's callbacks,
a burst worker, and what the ledger and the outbox hold for an intent."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from rq import Queue
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.test import TestResponse

from gateway.app import create_app
from gateway.clock import FixedClock
from gateway.models import (
    Household,
    Mutual,
    OutboxMessage,
    Payment,
    PaymentIntent,
    SandboxRequest,
)
from gateway.providers.payments.sandbox import SandboxProvider, SignedCallback
from gateway.services.ledger import posting
from gateway.settings import Settings
from tests.support.factories import make_household, make_mutual
from tests.support.redis_url import redis_url_of
from worker import jobs, registry
from worker.jobs import payments as payment_jobs
from worker.rq_workers import SimpleWorker

PHONE = "+22670123412"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pay_settings(database_url: str, client: redis.Redis[bytes], var: Path, **env: str) -> Settings:
    return Settings.from_env(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url_of(client),
            "GATEWAY_VAR_DIR": str(var),
            "GATEWAY_ENV": "test",
            "GATEWAY_SANDBOX_AUTO": "off",
            "GATEWAY_PUBLIC_URL": "http://127.0.0.1:9",  # nothing listens: tests deliver by hand
            **env,
        }
    )


@dataclass
class PayEnv:
    """One gateway: its settings, web app (and test client), worker context and Redis."""

    settings: Settings
    app: Flask
    client: FlaskClient
    context: jobs.JobContext
    redis: redis.Redis[bytes]
    factory: sessionmaker[Session]
    clock: FixedClock

    def work(self) -> None:
        """Run every payment job queued (and those they queue) in this process."""
        queues = [
            Queue(n, connection=self.redis) for n in (registry.CONFIRMATIONS, registry.PAYMENTS)
        ]
        SimpleWorker(queues, connection=self.redis).work(burst=True)

    def sandbox(self) -> SandboxProvider:
        return SandboxProvider(self.context)

    def close(self) -> None:
        """Release the job context's and the app's connections (the fixtures' teardown)."""
        self.context.close()
        self.app.extensions["gateway"].close()

    def deliver(self, callback: SignedCallback, query: str = "", work: bool = True) -> TestResponse:
        """The sandbox's callback through the test client instead of real HTTP; then, unless
        told not to, the worker applies what the endpoint queued (confirm-payment)."""
        path = urlsplit(callback.url).path or "/payments/sandbox/callback"
        answer = self.client.post(path + query, data=callback.body, headers=callback.headers)
        if work:
            self.work()
        return answer


def build_env(
    database_url: str,
    client: redis.Redis[bytes],
    var: Path,
    clock: FixedClock,
    factory: sessionmaker[Session],
    **env: str,
) -> PayEnv:
    settings = pay_settings(database_url, client, var, **env)
    app = create_app(settings)
    app.config["TESTING"] = True
    app.extensions["gateway"].clock = clock
    context = jobs.configure(settings, clock)
    return PayEnv(settings, app, app.test_client(), context, client, factory, clock)


@pytest.fixture
def env(
    database_url: str,
    redis_client: redis.Redis[bytes],
    tmp_path: Path,
    clock: FixedClock,
    session_factory: sessionmaker[Session],
) -> Iterator[PayEnv]:
    built = build_env(database_url, redis_client, tmp_path / "var", clock, session_factory)
    yield built
    built.close()


@pytest.fixture
def served(
    database_url: str,
    redis_client: redis.Redis[bytes],
    tmp_path: Path,
    clock: FixedClock,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[PayEnv]:
    """A gateway served over real HTTP, whose public URL the sandbox calls back; the sandbox
    approves every request at once."""
    yield from serve_gateway(
        database_url, redis_client, tmp_path, clock, session_factory, monkeypatch
    )


def serve_gateway(
    database_url: str,
    redis_client: redis.Redis[bytes],
    tmp_path: Path,
    clock: FixedClock,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
    **settings: str,
) -> Iterator[PayEnv]:
    """The `served` gateway with more settings (e.g. a callback token), for a fixture to
    `yield from`: stopped and closed when the fixture ends."""
    decide_at_once(monkeypatch)
    port = free_port()
    built = build_env(
        database_url,
        redis_client,
        tmp_path / "var",
        clock,
        session_factory,
        GATEWAY_SANDBOX_AUTO="approve",
        GATEWAY_PUBLIC_URL=f"http://127.0.0.1:{port}",
        **settings,
    )
    server = serve(built.app, port)
    yield built
    server.stop()
    built.close()


def decide_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sandbox decides at once (a burst worker does not wait for delayed jobs)."""
    monkeypatch.setattr(payment_jobs, "SANDBOX_DELAY_S", 0)


@dataclass
class Server:
    """A real HTTP server (werkzeug, threaded) running an app, for real callbacks."""

    server: BaseWSGIServer
    thread: threading.Thread

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)
        self.server.server_close()


def serve(app: Flask, port: int = 0) -> Server:
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return Server(server, thread)


# --- data -----------------------------------------------------------------------------------


def family(
    factory: sessionmaker[Session], members: int = 3, phone: str = PHONE, **product: Any
) -> tuple[int, str]:
    """A committed mutual and household; returns (household id, number)."""
    with factory.begin() as session:
        household = make_household(session, make_mutual(session, **product), members, phone=phone)
        return household.id, household.number


def intents(factory: sessionmaker[Session]) -> list[PaymentIntent]:
    with factory() as session:
        return list(session.scalars(select(PaymentIntent).order_by(PaymentIntent.id)))


def one_intent(factory: sessionmaker[Session]) -> PaymentIntent:
    found = intents(factory)
    assert len(found) == 1, found
    return found[0]


def sandbox_row(factory: sessionmaker[Session], reference: str) -> SandboxRequest | None:
    with factory() as session:
        return session.scalars(
            select(SandboxRequest).where(SandboxRequest.reference == reference)
        ).first()


@dataclass(frozen=True)
class Effects:
    """What money and messages an intent produced."""

    payments: int
    float_balance: int
    household_credit_or_allocated: int
    receipts: int
    failures: int


def effects(factory: sessionmaker[Session], reference: str, household_id: int) -> Effects:
    with factory() as session:
        household = session.get_one(Household, household_id)
        mutual = session.get_one(Mutual, household.mutual_id)
        payments = session.scalar(
            select(func.count()).select_from(Payment).where(Payment.reference == f"mm:{reference}")
        )
        float_balance = posting.balance(session, mutual.id, "asset:float:sandbox")
        received = session.scalar(
            select(func.coalesce(func.sum(Payment.amount), 0)).where(
                Payment.household_id == household_id
            )
        )
        receipts = _count_sms(session, household_id, ("payment_receipt", "payment_partial"))
        failures = _count_sms(session, household_id, ("payment_failed",))
    return Effects(int(payments or 0), float_balance, int(received or 0), receipts, failures)


def _count_sms(session: Session, household_id: int, templates: tuple[str, ...]) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.household_id == household_id)
            .where(OutboxMessage.template.in_(templates))
        )
        or 0
    )
