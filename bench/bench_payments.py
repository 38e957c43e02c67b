"""Payment callback benchmark (issue 5; payments.md "answer 2xx fast"; target p99 < 50 ms):
signed sandbox callbacks from 50 concurrent senders against the gateway served by gunicorn on
PostgreSQL and Redis, next to the bare WSGI app (bench/hello_wsgi.py) served the same way in
the same run.

    python -m bench.bench_payments [--seconds S] [--senders N] [--workers W] [--threads T]

Each sender posts `POST /payments/sandbox/callback` with a signed SUCCESSFUL callback for its
own payment intent: stored raw, recorded once, its effect queued for the worker
(confirm-payment: ledger credit, D7 allocation, receipt), which this benchmark does not run.
Runs: closed loop (saturation: callbacks/s, and a latency that includes the queueing it
causes), redeliveries of callbacks already applied (duplicates), and
paced senders (--think seconds between callbacks on average, as a provider's notifier spreads
them). Latency is measured by the client on the same 2 cores as the server.

PostgreSQL: a database of its own, `bench_payments_<pid>`, created through BENCH_PG_ADMIN_URL
(default postgresql://root@127.0.0.1:5432/postgres, used only to create and drop it) and dropped
at the end, also on an error or Ctrl-C; BENCH_DATABASE_URL may name an empty `bench_*` database
to use instead, which is then left in place. Redis: a private redis-server on a free port,
started and stopped by the benchmark. No other database or Redis is touched (bench/scratch.py,
issue 19)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select

from bench.bench_ussd import (
    HOST,
    SANDBOX_SECRET,
    TOKEN,
    KeepAlive,
    _free_port,
    _gunicorn,
    _pct,
    _settings_env,
    _stop,
    _wait_listening,
    run_or_skip,
    server_options,
)
from gateway.db import make_engine, make_session_factory, session_scope
from gateway.demo import load_demo
from gateway.models import Household, IntentState, Mutual, PaymentCallback, PaymentIntent
from gateway.providers.payments.sandbox import SIGNATURE_HEADER, sign
from gateway.services.payments.intents import create_intent

PATH = f"/payments/sandbox/callback?token={TOKEN}"
AMOUNT = 1000
HEADER = (
    f"{'endpoint':<8} {'run':<10} {'send.':>5} {'think':>6} {'calls':>7} {'calls/s':>8} "
    f"{'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'errors':>6}"
)


@dataclass
class Run:
    endpoint: str
    kind: str
    senders: int
    think_s: float
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    sent: list[bytes] = field(default_factory=list)  # bodies answered, for redeliveries

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def pct(self, p: int) -> float:
        return _pct(sorted(x * 1000 for x in self.latencies) or [0.0], p)

    def line(self) -> str:
        return (
            f"{self.endpoint:<8} {self.kind:<10} {self.senders:>5} {self.think_s:>6.2f} "
            f"{len(self.latencies):>7} {self.rate:>8.0f} {self.pct(50):>7.1f} "
            f"{self.pct(99):>7.1f} {self.pct(100):>7.1f} {self.errors:>6}"
        )


def callback_body(reference: str, n: int, msisdn: str) -> bytes:
    return (
        f'{{"reference":"{reference}","provider_txn_id":"SBX-BENCH-{n}",'
        f'"status":"SUCCESSFUL","amount":{AMOUNT},"currency":"XOF","msisdn":"{msisdn}"}}'
    ).encode()


class Sender(KeepAlive):
    """One provider notifier: callbacks one after another on one keep-alive connection."""

    def __init__(self, port: int, path: str, run: Run, rng: random.Random) -> None:
        super().__init__(port)
        self.path, self.run, self.rng = path, run, rng

    async def post(self, body: bytes) -> None:
        signature = sign(SANDBOX_SECRET, body)
        request = (
            f"POST {self.path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: {len(body)}\r\n"
            f"Content-Type: application/json\r\n{SIGNATURE_HEADER}: {signature}\r\n\r\n"
        ).encode() + body
        answer = await self.exchange(request, self.run.latencies)
        if answer is None:
            self.run.errors += 1
            return
        self.run.sent.append(body)
        if answer[0] != 200:
            self.run.errors += 1


async def _send_all(sender: Sender, bodies: list[bytes], deadline: float) -> None:
    if sender.run.think_s:
        await asyncio.sleep(sender.rng.uniform(0, 2 * sender.run.think_s))
    for body in bodies:
        if time.monotonic() >= deadline:
            break
        await sender.post(body)
        if sender.run.think_s:
            await asyncio.sleep(sender.rng.uniform(0.5, 1.5) * sender.run.think_s)
    sender.close()


async def _load(run: Run, port: int, path: str, bodies: list[bytes], seconds: float) -> None:
    """Each sender takes every n-th body: distinct events spread over the senders."""
    rng = random.Random(run.senders)
    senders = [Sender(port, path, run, random.Random(rng.random())) for _ in range(run.senders)]
    started = time.monotonic()
    await asyncio.gather(
        *(_send_all(s, bodies[i :: run.senders], started + seconds) for i, s in enumerate(senders))
    )
    run.seconds = time.monotonic() - started


@dataclass
class Bench:
    args: argparse.Namespace
    env: dict[str, str]
    log: Path
    database_url: str
    bodies: list[bytes] = field(default_factory=list)

    def prepare(self, intents: int) -> None:
        """The demo mutual and one CREATED intent per future callback, in the (migrated)
        scratch database."""
        engine = make_engine(self.database_url)
        now = dt.datetime.now(dt.UTC)
        with session_scope(make_session_factory(engine)) as session:
            load_demo(session, now.date())
            for mutual in session.scalars(select(Mutual)):
                # The demo's `[payment] channels` is a list, which channel_for cannot read
                # (reported); the bench measures callbacks, so give it the documented table.
                if not isinstance(mutual.payment_settings.get("channels"), dict):
                    mutual.payment_settings = {"channels": {"default": "MOBILE_MONEY"}}
            households = list(session.scalars(select(Household).order_by(Household.id)))
            for n in range(intents):
                household = households[n % len(households)]
                msisdn = "+22670" + f"{n:06d}"
                intent = create_intent(
                    session, household=household, amount=AMOUNT, msisdn=msisdn, now=now
                )
                self.bodies.append(callback_body(intent.reference, n, msisdn))
        engine.dispose()

    def outcomes(self) -> dict[str, int]:
        engine = make_engine(self.database_url)
        with engine.connect() as conn:
            rows = conn.execute(
                select(PaymentCallback.outcome, func.count()).group_by(PaymentCallback.outcome)
            ).all()
            succeeded = conn.scalar(
                select(func.count())
                .select_from(PaymentIntent)
                .where(PaymentIntent.state == IntentState.SUCCEEDED)
            )
        engine.dispose()
        return {str(k): int(v) for k, v in rows} | {"intents SUCCEEDED": int(succeeded or 0)}


def _measure(endpoint: str, app: str, ctx: Bench) -> list[Run]:
    port = _free_port()
    proc = _gunicorn(app, port, ctx)
    args, runs = ctx.args, list[Run]()
    path = PATH if endpoint == "gateway" else "/"
    third = len(ctx.bodies) // 3
    fresh, paced = ctx.bodies[:third], ctx.bodies[third : 2 * third]
    plan = [
        ("new", args.senders, 0.0, fresh, args.seconds),
        ("duplicate", args.senders, 0.0, [], args.seconds),  # what "new" got answered
        ("paced-new", args.senders, args.think, paced, max(args.seconds * 3, 20.0)),
    ]
    try:
        _wait_listening(port, proc)
        warm = ctx.bodies[2 * third : 2 * third + 50]
        asyncio.run(_load(Run(endpoint, "warm-up", 10, 0.0), port, path, warm, 5.0))
        for kind, senders, think, bodies, seconds in plan:
            run = Run(endpoint, kind, senders, think)
            bodies = bodies or (runs[0].sent * 4)  # redeliveries, several times each
            asyncio.run(_load(run, port, path, bodies, seconds))
            print(run.line(), flush=True)
            runs.append(run)
    finally:
        _stop(proc)
    return runs


def _report(gateway: list[Run], bare: list[Run], ctx: Bench) -> None:
    print("\nratios (gateway / bare, closed loop):")
    for g, b in zip(gateway, bare, strict=False):
        share = g.rate / b.rate if b.rate else 0.0
        print(f"  {g.kind:<10} {g.rate:.0f} / {b.rate:.0f} callbacks/s = {share:.2f}")
    for run in gateway:
        verdict = "met" if run.pct(99) < 50 else "missed"
        print(
            f"  p99 {run.kind:<10} {run.senders} senders, think {run.think_s:g} s: "
            f"{run.pct(99):.1f} ms (target < 50: {verdict})"
        )
    print(f"  stored deliveries by outcome: {ctx.outcomes()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=10.0, help="per closed-loop run")
    parser.add_argument("--senders", type=int, default=50, help="concurrent senders")
    server_options(parser)
    parser.add_argument("--think", type=float, default=0.5, help="mean pause, paced run (s)")
    parser.add_argument("--intents", type=int, default=6000, help="intents prepared")
    args = parser.parse_args(argv)
    return run_or_skip("payments", lambda url, redis_url: _run(args, url, redis_url))


def _run(args: argparse.Namespace, url: str, redis_url: str) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-pay-") as tmp:
        env = _settings_env(url, redis_url)
        ctx = Bench(args, env, Path(tmp) / "gunicorn.log", url)
        ctx.prepare(args.intents)
        print(
            f"{len(ctx.bodies)} intents; gunicorn gthread {args.workers} workers x "
            f"{args.threads} threads; {os.cpu_count()} CPUs shared with the client"
        )
        print(HEADER)
        gateway = _measure("gateway", "gateway.app:create_app()", ctx)
        bare = _measure("bare", "bench.hello_wsgi:app", ctx)
        _report(gateway, bare, ctx)
        if any(run.errors for run in gateway):
            print(f"\nerrors seen: the gunicorn log follows\n{ctx.log.read_text()[-3000:]}")


if __name__ == "__main__":
    sys.exit(main())
