"""Worker throughput benchmark (issue 19): payment confirmations and SMS per second delivered
THROUGH `gateway worker` processes (one, then two), next to the same jobs called in-process in
the same run. Targets: >= 20 confirmations/s and >= 2 500 SMS/s per worker.

    python -m bench.bench_workers [--payments N] [--sms N] [--workers 1,2]

Confirmations: signed (verified) sandbox callbacks recorded as the callback handler records
them, one `confirm-payment` job each (ledger credit, D7 allocation, receipt queued). SMS:
identical texts queued in the outbox, one `send-sms-batch` job per GATEWAY_SMS_BATCH messages,
sent to the local sandbox SMS provider (the sink the tests use), with GATEWAY_SMS_RATE high
enough to measure the worker, not the provider's limit. A round enqueues its jobs, then waits
until the database shows every event applied (every message SENT); its rate is that count
over the time from the first enqueue. The workers run their scheduler as in production; they
are started, and idle, before the round's events and messages are written, so that the
scheduler's sweepers (which also dispatch QUEUED messages and apply recorded events) cannot
do part of the round before its clock starts. The payments go to households whose payment is
not held for an operator (D7's hold limit), as most members' are.

PostgreSQL: a database of its own (bench/scratch.py: `bench_workers_<pid>`, dropped at the end,
or an empty `bench_*` BENCH_DATABASE_URL, left in place); Redis: a private redis-server this
benchmark starts and stops."""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import redis
from rq import Worker
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.orm import Session

from bench import scratch
from gateway.db import make_engine, make_session_factory, session_scope
from gateway.demo import load_demo
from gateway.models import Household, Mutual, OutboxMessage, OutboxStatus, PaymentEvent
from gateway.services import payments
from gateway.services.coverage import load_book
from gateway.services.coverage.allocation import hold_limit
from gateway.services.payments import CallbackEvent, ProviderState
from gateway.services.payments.intents import create_intent
from gateway.settings import Settings
from worker import jobs, registry
from worker.jobs.messaging import send_sms_batch
from worker.jobs.payments import confirm_payment

ROOT = Path(__file__).resolve().parent.parent
AMOUNT = 1000
TEXT = "Mutuelle: votre paiement de 1 000 FCFA est recu. Merci."
TARGETS = {"confirmations": 20.0, "sms": 2500.0}
READY_TIMEOUT_S = 60.0
ROUND_TIMEOUT_S = 600.0


@dataclass
class Round:
    kind: str  # confirmations | sms
    where: str  # in-process | N worker(s)
    workers: int
    count: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        per = self.rate / self.workers if self.workers else self.rate
        target = TARGETS[self.kind]
        verdict = "" if not self.workers else f" (target >= {target:g}/worker: "
        verdict += "" if not self.workers else ("met)" if per >= target else "missed)")
        return (
            f"{self.kind:<14} {self.where:<12} {self.count:>7} in {self.seconds:6.2f} s "
            f"= {self.rate:8.1f}/s, {per:8.1f}/s per worker{verdict}"
        )


# --- data -----------------------------------------------------------------------------------


def prepare_demo(engine: Engine) -> None:
    with session_scope(make_session_factory(engine)) as session:
        load_demo(session, dt.datetime.now(dt.UTC).date())
        for mutual in session.scalars(select(Mutual)):
            # As bench_payments: the demo's `[payment] channels` list is read as a table.
            if not isinstance(mutual.payment_settings.get("channels"), dict):
                mutual.payment_settings = {"channels": {"default": "MOBILE_MONEY"}}


def prepare_events(engine: Engine, count: int, tag: str) -> list[int]:
    """`count` CREATED intents, each with its verified SUCCESSFUL sandbox callback recorded
    (not applied): what the callback handler leaves for `confirm-payment`."""
    now = dt.datetime.now(dt.UTC)
    ids: list[int] = []
    with session_scope(make_session_factory(engine)) as session:
        households = payable(session, now.date())
        for n in range(count):
            msisdn = f"+22670{n:06d}"
            intent = create_intent(
                session,
                household=households[n % len(households)],
                amount=AMOUNT,
                msisdn=msisdn,
                now=now,
            )
            event = CallbackEvent(
                event_key=f"bench-{tag}-{n}",
                reference=intent.reference,
                provider_txn_id=f"SBX-{tag}-{n}",
                state=ProviderState.SUCCEEDED,
                amount=AMOUNT,
                currency="XOF",
                msisdn=msisdn,
                verified=True,
                needs_confirmation=False,
            )
            recorded, _ = payments.record_event(session, "sandbox", event, None, now)
            ids.append(recorded.id)
    return ids


def payable(session: Session, today: dt.date) -> list[Household]:
    """The households a payment of AMOUNT credits and allocates: not held (D7's hold limit,
    the demo has members whose shares are nothing a year)."""
    found: list[Household] = []
    for household in session.scalars(select(Household).order_by(Household.id)):
        mutual = session.get_one(Mutual, household.mutual_id)
        limit = hold_limit(mutual, load_book(session, household), today)
        if limit is None or limit >= AMOUNT:
            found.append(household)
    return found


def prepare_messages(engine: Engine, count: int, batch: int) -> list[list[int]]:
    """`count` QUEUED messages with one text (a campaign's), in batches of `batch` ids."""
    with session_scope(make_session_factory(engine)) as session:
        mutual_id = session.scalars(select(Mutual.id).order_by(Mutual.id)).first()
        rows = [
            {
                "mutual_id": mutual_id,
                "phone": f"+2267{n:07d}",
                "template": "bench",
                "language": "fr",
                "text": TEXT,
                "reason": "reminder",
                "status": OutboxStatus.QUEUED,
            }
            for n in range(count)
        ]
        ids = list(session.scalars(insert(OutboxMessage).returning(OutboxMessage.id), rows))
    ids.sort()
    return [ids[i : i + batch] for i in range(0, len(ids), batch)]


def applied(session: Session, ids: Sequence[int]) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(PaymentEvent)
            .where(PaymentEvent.id.in_(ids), PaymentEvent.outcome.is_not(None))
            .where(PaymentEvent.outcome != "unconfirmed")
        )
        or 0
    )


def sent(session: Session, batches: Sequence[Sequence[int]]) -> int:
    low, high = batches[0][0], batches[-1][-1]
    return int(
        session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.id.between(low, high))
            .where(OutboxMessage.status == OutboxStatus.SENT)
        )
        or 0
    )


# --- rounds ---------------------------------------------------------------------------------


def in_process(settings: Settings, kind: str, work: list[str]) -> float:
    """The jobs' functions called one after another in this process (no RQ, no Redis queue)."""
    jobs.configure(settings)
    run: Callable[[str], object] = confirm_payment if kind == "confirmations" else send_sms_batch
    run(work[0])  # warm: the first job builds the engine and fills the caches
    started = time.perf_counter()
    for arg in work[1:]:
        run(arg)
    seconds = time.perf_counter() - started
    jobs.context().close()
    return seconds


def start_workers(
    env: dict[str, str], queue: str, n: int, log: Path
) -> list[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        return [
            subprocess.Popen(
                [sys.executable, "-m", "gateway", "worker", "--queues", queue],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            for _ in range(n)
        ]


def wait_idle(
    connection: redis.Redis[bytes], procs: list[subprocess.Popen[bytes]], log: Path
) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            raise SystemExit(f"a worker exited:\n{log.read_text()[-3000:]}")
        ready = [w for w in Worker.all(connection=connection) if w.get_state() == "idle"]
        if len(ready) >= len(procs):
            return
        time.sleep(0.1)
    raise SystemExit(f"workers not ready in {READY_TIMEOUT_S}s:\n{log.read_text()[-3000:]}")


def stop_workers(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def through_workers(
    env: dict[str, str],
    engine: Engine,
    kind: str,
    prepare: Callable[[], tuple[list[str], Callable[[Session], int], int]],
    n: int,
    log: Path,
) -> float:
    """Once `n` `gateway worker` processes are idle, `prepare` writes the round's data and
    returns (the jobs' arguments, how many are done, how many must be); their jobs are then
    enqueued: seconds from the first enqueue until all are done."""
    connection = redis.Redis.from_url(env["REDIS_URL"])
    name = "confirm-payment" if kind == "confirmations" else "send-sms-batch"
    queue = registry.spec(name).queue
    connection.delete(*(connection.keys("rq:job:bench-*") or [b"-"]))  # the previous round's
    procs = start_workers(env, queue, n, log)
    factory = make_session_factory(engine)
    try:
        wait_idle(connection, procs, log)
        work, done, expected = prepare()
        started = time.perf_counter()
        for n, arg in enumerate(work):
            registry.enqueue(connection, name, arg, job_id=f"bench-{name}-{n}")
        deadline = time.monotonic() + ROUND_TIMEOUT_S
        while time.monotonic() < deadline:
            with factory() as session:
                if done(session) >= expected:
                    return time.perf_counter() - started
            time.sleep(0.05)
        raise SystemExit(f"round not done in {ROUND_TIMEOUT_S}s:\n{log.read_text()[-3000:]}")
    finally:
        stop_workers(procs)
        connection.close()


def _events(
    engine: Engine, count: int, tag: str
) -> tuple[list[str], Callable[[Session], int], int]:
    ids = prepare_events(engine, count, tag)
    return [str(i) for i in ids], functools.partial(applied, ids=ids), len(ids)


def _messages(
    engine: Engine, count: int, batch: int
) -> tuple[list[str], Callable[[Session], int], int]:
    batches = prepare_messages(engine, count, batch)
    work = [",".join(str(i) for i in b) for b in batches]
    return work, functools.partial(sent, batches=batches), count


def measure(args: argparse.Namespace, url: str, redis_url: str, var: Path) -> list[Round]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": redis_url,
        "GATEWAY_ENV": "test",
        "GATEWAY_VAR_DIR": str(var),
        "GATEWAY_SMS_RATE": "1000000",
        "GATEWAY_SMS_BATCH": str(args.batch),
        "GATEWAY_SANDBOX_AUTO": "off",
        "PYTHONUNBUFFERED": "1",
    }
    settings = Settings.from_env(env)
    engine = make_engine(url)
    log = var / "workers.log"
    rounds: list[Round] = []
    try:
        prepare_demo(engine)
        plan = [0, *args.workers]
        for n in plan:
            where = "in-process" if n == 0 else f"{n} worker{'s' if n > 1 else ''}"
            size = args.payments * max(n, 1)
            events = functools.partial(_events, engine, size, f"{n}")
            if n == 0:
                seconds = in_process(settings, "confirmations", _events(engine, size + 1, "0")[0])
            else:
                seconds = through_workers(env, engine, "confirmations", events, n, log)
            rounds.append(Round("confirmations", where, n, size, seconds))
            print(rounds[-1].line(), flush=True)
        for n in plan:
            where = "in-process" if n == 0 else f"{n} worker{'s' if n > 1 else ''}"
            size = args.sms * max(n, 1)
            if n == 0:
                work = _messages(engine, size + args.batch, args.batch)[0]
                seconds = in_process(settings, "sms", work)
            else:
                messages = functools.partial(_messages, engine, size, args.batch)
                seconds = through_workers(env, engine, "sms", messages, n, log)
            rounds.append(Round("sms", where, n, size, seconds))
            print(rounds[-1].line(), flush=True)
    finally:
        engine.dispose()
    return rounds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--payments", type=int, default=1000, help="confirmations per worker")
    parser.add_argument("--sms", type=int, default=30_000, help="messages per worker")
    parser.add_argument("--batch", type=int, default=100, help="messages per send job")
    parser.add_argument(
        "--workers",
        type=lambda v: [int(x) for x in v.split(",")],
        default=[1, 2],
        help="worker counts, comma-separated",
    )
    args = parser.parse_args(argv)
    print(f"{os.cpu_count()} CPUs shared by the workers, PostgreSQL, Redis and this process")
    try:
        with (
            tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp,
            scratch.database("workers") as url,
            scratch.redis_server() as redis_url,
        ):
            measure(args, url, redis_url, Path(tmp))
    except scratch.Unavailable as exc:
        print(f"skipped: {exc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
