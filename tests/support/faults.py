"""The fault suite's real processes (issue 15, acceptance 2, tests/faults/): `gateway worker`
processes started and SIGKILLed, what Redis's TTLs do to a dead worker's keys, a private
redis-server and a private PostgreSQL cluster that a test may kill, and the checks every
fault case ends with (money credited once, receipts sent once, nothing SENDING)."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from rq import Queue
from rq.registry import StartedJobRegistry
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from gateway.app import create_app
from gateway.clock import Clock
from gateway.models import (
    IntentState,
    OutboxMessage,
    OutboxStatus,
    Payment,
    PaymentEvent,
    PaymentIntent,
)
from gateway.services.ledger import invariants
from gateway.services.messaging import outbox
from gateway.services.payments.intents import create_intent
from gateway.services.payments.lifecycle import (
    POLLED,
    STALE_CREATED,
    TERMINAL,
    UNAPPLIED_AFTER,
)
from gateway.settings import Settings
from tests.support.factories import make_household, make_mutual
from tests.support.fakes.mtnmomo_fake import MtnMomoFake
from tests.support.paths import ROOT
from tests.support.payments import Server, free_port, serve
from worker import registry

RECOVERY_BOUND_S = 90.0  # issue 15's target for every case
RECEIPTS = ("payment_receipt", "payment_partial")
# The schedule runs the sweepers every minute; the tests run them this often instead, so that
# a recovery time measures the recovery, not where the minute stood.
SWEEP_EVERY_S = 2.0

# `gateway worker` with two optional hooks, set by environment:
# - FAULT_SMS_LOG: the sandbox SMS provider appends each phone it sends to to this file, after
#   FAULT_SMS_DELAY_S seconds (the provider request in flight when a kill lands);
# - FAULT_APPLY_MARK: applying a payment event writes this file, then waits FAULT_APPLY_PAUSE_S
#   seconds before its transaction commits (a kill between the callback's receipt and commit).
LAUNCHER = """
import os, pathlib, runpy, sys, time

if os.environ.get("FAULT_SMS_LOG"):
    from gateway.providers.sms import SandboxSms
    send = SandboxSms.send

    def logged(self, phones, text, sender_id):
        time.sleep(float(os.environ.get("FAULT_SMS_DELAY_S", "0")))
        with open(os.environ["FAULT_SMS_LOG"], "a") as out:
            out.write("".join(p + "\\n" for p in phones))
        return send(self, phones, text, sender_id)

    SandboxSms.send = logged

if os.environ.get("FAULT_APPLY_MARK"):
    from gateway.services import payments
    apply_event = payments.apply_event

    def paused(session, event_id, confirmation, now):
        outcome = apply_event(session, event_id, confirmation, now)
        session.flush()
        pathlib.Path(os.environ["FAULT_APPLY_MARK"]).write_text(str(event_id))
        time.sleep(float(os.environ.get("FAULT_APPLY_PAUSE_S", "30")))
        return outcome

    payments.apply_event = paused

sys.argv = ["gateway", *sys.argv[1:]]
runpy.run_module("gateway", run_name="__main__")
"""


# --- worker processes -----------------------------------------------------------------------


def start_worker(env: dict[str, str], log: Path, *queues: str) -> subprocess.Popen[bytes]:
    """A real `gateway worker` (all queues unless named) in its own process group, so that a
    SIGKILL takes its RQ scheduler process too."""
    args = ["--queues", ",".join(queues)] if queues else []
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, "worker", *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the worker, its group (the RQ scheduler) and every descendant: RQ's work
    horse, which runs the job, leaves the group (setpgrp) and would outlive a killpg. A crash
    of the machine or container: no handler, no cleanup."""
    family = descendants(proc.pid)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    for pid in family:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait()


def descendants(pid: int) -> list[int]:
    """The process ids below `pid` (from /proc; none where there is no /proc)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    """A warm shutdown (SIGTERM), a SIGKILL if it does not come within 20 s."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        kill(proc)


def expire_dead_workers(connection: redis.Redis[bytes]) -> list[str]:
    """What Redis's TTLs do to a SIGKILLed worker's keys within 90 s, done now: its
    registrations and scheduler locks go, and each job it had started is handled by RQ's own
    abandoned-job cleanup (retried if it has retries left, else failed). Returns those jobs."""
    abandoned: list[str] = []
    later = time.time() + 3600  # past every execution's heartbeat TTL (monitoring + 60 s)
    for name in registry.QUEUES:
        started = StartedJobRegistry(name, connection=connection)
        abandoned += started.get_job_ids(cleanup=False)
        started.cleanup(timestamp=later)
        Queue(name, connection=connection)  # the registry's queue exists
    keys = [
        b"rq:workers",
        *connection.keys("rq:workers:*"),
        *connection.keys("rq:scheduler-lock:*"),
    ]
    connection.delete(*keys)
    return abandoned


def wait_for(
    condition: Callable[[], bool],
    timeout_s: float,
    alive: tuple[subprocess.Popen[bytes], ...] = (),
    log: Path | None = None,
    every_s: float = 0.1,
) -> bool:
    """Until `condition()` holds (True) or the time is up (False); a process of `alive` that
    exits fails the test with its log."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        for proc in alive:
            assert proc.poll() is None, log.read_text() if log else "a process exited"
        time.sleep(every_s)
    return condition()


def run_sweepers(connection: redis.Redis[bytes]) -> None:
    """What the worker's schedule enqueues every minute (worker/schedule.py): the payment
    sweeper and sms-dispatch (which sends the receipts that payments queue)."""
    registry.enqueue(connection, "sweep-payments")
    registry.enqueue(connection, "sms-dispatch")


def until_settled(
    factory: sessionmaker[Session],
    connection: redis.Redis[bytes],
    alive: tuple[subprocess.Popen[bytes], ...],
    log: Path,
    every_s: float = SWEEP_EVERY_S,
    meanwhile: Callable[[], None] | None = None,
) -> bool:
    """Run the sweepers every `every_s` seconds (after `meanwhile()`, if given) until every
    intent is credited and its receipt sent (settled), for at most RECOVERY_BOUND_S + 30 s;
    whether it settled."""
    deadline = time.monotonic() + RECOVERY_BOUND_S + 30
    while time.monotonic() < deadline:
        if meanwhile is not None:
            meanwhile()
        run_sweepers(connection)
        if wait_for(settled(factory), every_s, alive, log, every_s=0.3):
            return True
    return False


# What RQ logs when a blocking dequeue meets a read timeout shorter than its own: an idle
# worker then backs off up to a minute between dequeues (see worker/main.py, run_worker).
DEQUEUE_TIMEOUT = "could not connect to Redis instance: Timeout reading"


def recovered(case: str, started: float) -> float:
    """Print the case's time to recover (from `started`, a time.monotonic()) and return it."""
    took = time.monotonic() - started
    print(f"\n{case} recovered in {took:.1f} s")
    return took


# --- a private redis-server ---------------------------------------------------------------


class PrivateRedis:
    """A redis-server of the test's own on a free port, its data under `directory` (AOF, fsync
    at every write): SIGKILLed, then restarted with its data or empty."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("no redis-server binary on PATH: the Redis fault cases need one")
        self.binary, self.directory, self.port = binary, directory, free_port()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis[bytes]:
        return redis.Redis.from_url(self.url)

    def start(self) -> None:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir"]
        args += [str(self.directory), "--appendonly", "yes", "--appendfsync", "always"]
        args += ["--save", "", "--daemonize", "no", "--logfile", str(self.directory / "log")]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        probe = self.client()
        try:
            ready = wait_for(lambda: _pings(probe), 20, (self.proc,), self.directory / "log")
        finally:
            probe.close()
        assert ready, (self.directory / "log").read_text()

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def restart(self, keep_data: bool) -> None:
        """SIGKILL, then start on the same port: on the same files, or on none."""
        self.kill()
        if not keep_data:
            for path in self.directory.iterdir():
                if path.name != "log":
                    shutil.rmtree(path) if path.is_dir() else path.unlink()
        self.start()


def _pings(client: redis.Redis[bytes]) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


@contextlib.contextmanager
def private_redis(directory: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(directory)
    server.start()
    try:
        yield server
    finally:
        server.kill()


# --- a private PostgreSQL cluster ---------------------------------------------------------


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own (initdb, pg_ctl) on a free port, stopped and
    started by the test. As root, it runs as the `postgres` user in a directory it owns."""

    def __init__(self) -> None:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
        if not found:
            pytest.skip("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
        self.bin = found[-1].parent
        self.port = free_port()
        self.prefix: list[str] = []
        self.root = Path(tempfile.mkdtemp(prefix="gw-fault-pg-"))
        if os.geteuid() == 0:
            runuser = shutil.which("runuser")
            if runuser is None:
                pytest.skip("running as root without runuser: initdb refuses to run as root")
            try:
                shutil.chown(self.root, "postgres", "postgres")
            except (LookupError, PermissionError) as exc:
                pytest.skip(f"running as root and no usable `postgres` user: {exc}")
            self.prefix = [runuser, "-u", "postgres", "--"]
        self.data = self.root / "data"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/gateway"

    def _run(self, *args: str) -> None:
        done = subprocess.run(
            [*self.prefix, *args], capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)}: {done.stdout}{done.stderr}")

    def init(self) -> None:
        """initdb, start, and create the `gateway` database; skips the test with the reason
        when the cluster cannot be made or started here."""
        initdb = [str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust"]
        createdb = [str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port)]
        try:
            self._run(*initdb)
            self.start()
            self._run(*createdb, "-U", "postgres", "gateway")
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            pytest.skip(f"no private PostgreSQL cluster: {exc}"[:500])

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-w", "-t", "60",
            "-l", str(self.root / "log"), "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


# --- what every case ends with --------------------------------------------------------------


def money_problems(factory: sessionmaker[Session]) -> list[str]:
    """Every breach of the cases' end state, one line each: an intent neither terminal nor
    pending for a stated reason, a succeeded intent not credited exactly once (or a credit for
    an intent that did not succeed), a receipt not queued exactly once or not SENT, an SMS
    still SENDING, a ledger audit breach."""
    problems: list[str] = []
    with factory() as session:
        for intent in session.scalars(select(PaymentIntent).order_by(PaymentIntent.id)):
            problems += _intent_problems(session, intent)
        sending = session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.status == OutboxStatus.SENDING)
        )
        if sending:
            problems.append(f"{sending} SMS still SENDING")
        problems += [f"ledger: {line}" for line in invariants.audit(session)]
    return problems


def _intent_problems(session: Session, intent: PaymentIntent) -> list[str]:
    name = f"intent {intent.id} ({intent.state})"
    if intent.state not in TERMINAL and not (intent.reason and intent.next_poll_at):
        return [f"{name}: neither terminal nor pending for a stated reason"]
    credits = session.scalar(
        select(func.count())
        .select_from(Payment)
        .where(Payment.reference == f"mm:{intent.reference}")
    )
    wanted = 1 if intent.state == IntentState.SUCCEEDED else 0
    if credits != wanted:
        return [f"{name}: {credits} credits"]
    receipts = list(
        session.scalars(
            select(OutboxMessage.status)
            .where(OutboxMessage.household_id == intent.household_id)
            .where(OutboxMessage.template.in_(RECEIPTS))
        )
    )
    if wanted and receipts != [OutboxStatus.SENT]:
        return [f"{name}: receipts {receipts}"]
    return []


def settled(factory: sessionmaker[Session]) -> Callable[[], bool]:
    """A condition for wait_for: every intent SUCCEEDED and no problem left."""
    return lambda: set(intent_states(factory)) == {"SUCCEEDED"} and not money_problems(factory)


def sent_phones(log: Path) -> list[str]:
    """The phones the sandbox SMS provider sent to (FAULT_SMS_LOG), once per request."""
    return log.read_text().split() if log.exists() else []


# --- a gateway for the processes to share ---------------------------------------------------


def mtn_env(fake: MtnMomoFake) -> dict[str, str]:
    """The settings that point the MTN MoMo adapter at the local fake."""
    return {
        "MTNMOMO_SUBSCRIPTION_KEY": fake.subscription_key,
        "MTNMOMO_API_USER": fake.api_user,
        "MTNMOMO_API_KEY": fake.api_key,
        "MTNMOMO_TARGET_ENVIRONMENT": fake.target_environment,
        "MTNMOMO_BASE_URL": fake.url,
    }


@contextlib.contextmanager
def served_gateway(env: dict[str, str]) -> Iterator[Server]:
    """The web app served over real HTTP on GATEWAY_PUBLIC_URL's port (where providers call
    back), with the settings of `env` (a worker's environment) and the wall clock."""
    settings = Settings.from_env(env)
    app = create_app(settings)
    server = serve(app, urlsplit(settings.public_url).port or 0)
    try:
        yield server
    finally:
        server.stop()
        app.extensions["gateway"].close()


def pay_household(
    factory: sessionmaker[Session], provider: str, count: int = 1, amount: int = 18_000
) -> list[int]:
    """`count` households of one mutual paying with `provider`, each with a CREATED intent of
    `amount` from its own phone (one receipt each): the intents' ids."""
    now = Clock().now()
    with factory.begin() as session:
        mutual = make_mutual(session)
        mutual.payment_provider = provider
        found = []
        for n in range(count):
            phone = f"+2267012{n:04d}"
            household = make_household(session, mutual, 3, phone=phone)
            intent = create_intent(
                session, household=household, amount=amount, msisdn=phone, now=now
            )
            session.flush()
            found.append(intent.id)
        return found


def initiate(connection: redis.Redis[bytes], intent_ids: list[int]) -> None:
    """The initiate jobs that a USSD hop enqueues after its commit."""
    for intent_id in intent_ids:
        registry.enqueue(
            connection, "initiate-payment", str(intent_id), job_id=f"initiate-payment-{intent_id}"
        )


def intent_states(factory: sessionmaker[Session]) -> list[str]:
    with factory() as session:
        return [
            str(s) for s in session.scalars(select(PaymentIntent.state).order_by(PaymentIntent.id))
        ]


def elapse_bounds(factory: sessionmaker[Session]) -> None:
    """The sweepers' waiting bounds elapse, as the clock would end them: CREATED intents are
    STALE_CREATED old, due polls due now, unapplied callbacks UNAPPLIED_AFTER old, and SMS
    left SENDING (untouched for 5 s) STALE_SENDING old."""
    now = Clock().now()
    with factory.begin() as session:
        session.execute(
            update(PaymentIntent)
            .where(PaymentIntent.state == IntentState.CREATED)
            .values(created_at=now - STALE_CREATED)
        )
        session.execute(
            update(PaymentIntent)
            .where(PaymentIntent.next_poll_at > now)
            .where(PaymentIntent.state.in_(POLLED))
            .values(next_poll_at=now)
        )
        session.execute(
            update(PaymentEvent)
            .where(PaymentEvent.outcome.is_(None) | (PaymentEvent.outcome == "unconfirmed"))
            .where(PaymentEvent.received_at > now - UNAPPLIED_AFTER)
            .values(received_at=now - UNAPPLIED_AFTER)
        )
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == OutboxStatus.SENDING)
            .where(OutboxMessage.updated_at < now - dt.timedelta(seconds=5))
            .values(updated_at=now - outbox.STALE_SENDING * 2)
        )
