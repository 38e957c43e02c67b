"""USSD benchmark (issue 3, ussd.md: < 50 ms server time at p99): concurrent simulated sessions
against the gateway served by gunicorn on PostgreSQL and Redis, next to a bare `CON hello` WSGI
app (bench/hello_wsgi.py) served the same way in the same run, and, for reference, the same
answer through Flask (bench/hello_flask.py): what the framework alone costs.

    python -m bench.bench_ussd [--seconds S] [--workers W] [--threads T] [--think S]

Each session is a member of the demo mutual dialling in: main menu, 1 coverage, 0 back,
3 payments, 0 back; then the next session starts. Closed loop, no think time: hops/s is the
saturation throughput, and the client-side latency includes the queueing it causes. Paced runs
(--think seconds between hops on average, 3 s by default: a quick member, who must read up to
160 characters and type) show the latency a member would see. Server time is the handler's
own figure, read back from the audit (ussd_hops.latency_ms). Default server: gthread, 2 workers
x 4 threads; on 2 cores it gave the throughput of 4 x 8 with a far shorter server-time tail
under saturation (fewer threads fighting for each process's GIL).

PostgreSQL: a database of its own, `bench_ussd_<pid>`, created through BENCH_PG_ADMIN_URL
(default postgresql://root@127.0.0.1:5432/postgres, used only to create and drop it) and dropped
at the end, also on an error or Ctrl-C; BENCH_DATABASE_URL may name an empty `bench_*` database
to use instead, which is then left in place. Redis: a private redis-server on a free port,
started and stopped by the benchmark. No other database or Redis is touched (bench/scratch.py,
issue 19)."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urlencode

from sqlalchemy import func, select

from bench import scratch
from bench.coverage_history import coverage_table
from gateway.clock import Clock
from gateway.db import make_engine, make_session_factory, session_scope
from gateway.demo import load_demo
from gateway.models import HouseholdPhone, UssdHop

HOST = "127.0.0.1"
# Production refuses secrets under 32 characters (issue 15): these are long enough, and public.
TOKEN = "bench-ussd-token-0123456789abcdef"
SECRET_KEY = "bench-secret-key-0123456789abcdef"
SANDBOX_SECRET = "bench-sandbox-secret-0123456789ab"
HOP_PATH = f"/ussd/africastalking?token={TOKEN}"
JOURNEY = ("", "1", "1*0", "1*0*3", "1*0*3*0")
LEVELS = (50, 200)
MAX_SESSIONS_PER_CLIENT = 100_000  # the deadline ends a run long before
READY_TIMEOUT_S = 30.0
HEADER = (
    f"{'endpoint':<8} {'sess.':>5} {'think':>6} {'hops':>7} {'hops/s':>8} {'p50 ms':>7} "
    f"{'p99 ms':>7} {'srv p50':>7} {'srv p99':>8} {'errors':>6}"
)


@dataclass
class Run:
    endpoint: str
    sessions: int
    think_s: float
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    server_ms: list[int] = field(default_factory=list)
    tag: str = ""

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        ms = sorted(x * 1000 for x in self.latencies) or [0.0]
        server = _pcts(sorted(self.server_ms)) if self.server_ms else "      -        -"
        return (
            f"{self.endpoint:<8} {self.sessions:>5} {self.think_s:>6.1f} {len(ms):>7} "
            f"{self.rate:>8.0f} {_pct(ms, 50):>7.1f} {_pct(ms, 99):>7.1f} {server} "
            f"{self.errors:>6}"
        )


def _pct(values: list[float], p: int) -> float:
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def _pcts(values: list[int]) -> str:
    ms = [float(v) for v in values]
    return f"{_pct(ms, 50):>7.1f} {_pct(ms, 99):>8.1f}"


# --- the HTTP client: one keep-alive connection per simulated session ----------------------


async def _read_reply(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, body, headers.get("connection", "").lower() == "close"


class KeepAlive:
    """One keep-alive HTTP/1.1 connection to the server under test, reopened once when the
    server has closed it; shared by the USSD and the payment benchmarks."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def exchange(self, request: bytes, latencies: list[float]) -> tuple[int, bytes] | None:
        """(status, body) of the request, its time appended to `latencies`; None if the
        server could not be reached twice in a row."""
        for _attempt in range(2):
            if self.conn is None:
                self.conn = await asyncio.open_connection(HOST, self.port)
            reader, writer = self.conn
            started = time.perf_counter()
            try:
                writer.write(request)
                await writer.drain()
                status, reply, close = await _read_reply(reader)
            except (ConnectionError, asyncio.IncompleteReadError):
                self.close()
                continue
            latencies.append(time.perf_counter() - started)
            if close:
                self.close()
            return status, reply
        return None

    def close(self) -> None:
        if self.conn is not None:
            self.conn[1].close()
            self.conn = None


class Client(KeepAlive):
    """A phone slot: sessions one after another on one connection."""

    def __init__(self, port: int, path: str, run: Run, rng: random.Random) -> None:
        super().__init__(port)
        self.path, self.run, self.rng = path, run, rng

    async def hop(self, form: dict[str, str]) -> bytes:
        body = urlencode(form).encode()
        request = (
            f"POST {self.path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: {len(body)}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n\r\n"
        ).encode() + body
        answer = await self.exchange(request, self.run.latencies)
        if answer is None:
            self.run.errors += 1
            return b""
        status, reply = answer
        if status != 200 or not reply.startswith((b"CON ", b"END ")):
            self.run.errors += 1
        return reply


async def _client(client: Client, phones: itertools.cycle[str], tag: str, deadline: float) -> None:
    if client.run.think_s:  # paced members do not all dial in the same millisecond
        await asyncio.sleep(client.rng.uniform(0, 2 * client.run.think_s))
    for n in range(MAX_SESSIONS_PER_CLIENT):
        if time.monotonic() >= deadline:
            break
        form = {"sessionId": f"{tag}-{n}", "serviceCode": "*144*7#", "phoneNumber": next(phones),
                "networkCode": "61302"}  # fmt: skip
        for text in JOURNEY:
            await client.hop(form | {"text": text})
            if client.run.think_s:
                await asyncio.sleep(client.rng.uniform(0.5, 1.5) * client.run.think_s)
    client.close()


async def _load(run: Run, port: int, path: str, phones: list[str], seconds: float) -> None:
    rng = random.Random(run.sessions)
    clients = [Client(port, path, run, random.Random(rng.random())) for _ in range(run.sessions)]
    cycle = itertools.cycle(phones)
    started = time.monotonic()
    tag = f"B{run.endpoint[:2]}{run.tag}{run.sessions}t{run.think_s:g}"
    await asyncio.gather(
        *(_client(c, cycle, f"{tag}-{i}", started + seconds) for i, c in enumerate(clients))
    )
    run.seconds = time.monotonic() - started


# --- servers ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class Server(Protocol):
    """What starting the server needs of a benchmark (this one's or the payments one's)."""

    args: argparse.Namespace
    env: dict[str, str]
    log: Path


def _gunicorn(app: str, port: int, ctx: Server) -> subprocess.Popen[bytes]:
    """The production server as deploy/gunicorn.conf.py runs it (gthread workers, keep-alive),
    with the workers and threads of the command line and no access log (nginx keeps one)."""
    argv = [sys.executable, "-m", "gunicorn", "--bind", f"{HOST}:{port}",
            "--workers", str(ctx.args.workers), "--worker-class", "gthread",
            "--threads", str(ctx.args.threads), "--keep-alive", "10",
            "--log-level", "warning", "--no-control-socket", app]  # fmt: skip
    with ctx.log.open("ab") as out:
        return subprocess.Popen(argv, env=ctx.env, stdout=out, stderr=out, start_new_session=True)


def _wait_listening(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited with {proc.returncode}; see its log")
        try:
            socket.create_connection((HOST, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"gunicorn did not listen on {port} within {READY_TIMEOUT_S:.0f} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


ENDPOINTS = {
    "gateway": "gateway.app:create_app()",
    "floor": "bench.floor_flask:app",
    "flask": "bench.hello_flask:app",
    "bare": "bench.hello_wsgi:app",
}


@contextmanager
def _servers(ctx: Bench) -> Iterator[dict[str, int]]:
    """Every endpoint on its own gunicorn, all started at once (an idle one costs nothing), so
    that rounds can interleave them: a shared machine's load then weighs on each alike."""
    ports = {name: _free_port() for name in ENDPOINTS}
    procs = [_gunicorn(app, ports[name], ctx) for name, app in ENDPOINTS.items()]
    try:
        for port, proc in zip(ports.values(), procs, strict=True):
            _wait_listening(port, proc)
        for name, port in ports.items():  # warm-up
            asyncio.run(_load(Run(name, 20, 0.0), port, _path(name), ctx.phones, 2.0))
        yield ports
    finally:
        for proc in procs:
            _stop(proc)


def _path(endpoint: str) -> str:
    return "/" if endpoint == "bare" else HOP_PATH


def _measure(endpoint: str, port: int, sessions: int, think: float, ctx: Bench) -> Run:
    run = Run(endpoint, sessions, think)
    seconds = max(ctx.args.seconds * 3, 30.0) if think else ctx.args.seconds
    run.tag = f"{ctx.next_tag()}"
    asyncio.run(_load(run, port, _path(endpoint), ctx.phones, seconds))
    if endpoint == "gateway":
        run.server_ms = ctx.server_times(run)
    print(run.line(), flush=True)
    return run


# --- set-up and report --------------------------------------------------------------------


@dataclass
class Bench:
    args: argparse.Namespace
    env: dict[str, str]
    log: Path
    database_url: str
    phones: list[str] = field(default_factory=list)
    runs: int = 0

    def prepare(self) -> None:
        """The demo mutual in the (migrated) scratch database; the member phones that reach
        one household."""
        engine = make_engine(self.database_url)
        with session_scope(make_session_factory(engine)) as session:
            load_demo(session, Clock().today())
            query = (
                select(HouseholdPhone.msisdn)
                .group_by(HouseholdPhone.msisdn)
                .having(func.count() == 1)
                .order_by(HouseholdPhone.msisdn)
            )
            self.phones = list(session.scalars(query))
        engine.dispose()

    def next_tag(self) -> str:
        self.runs += 1
        return f"r{self.runs}x"

    def server_times(self, run: Run) -> list[int]:
        tag = f"B{run.endpoint[:2]}{run.tag}{run.sessions}t{run.think_s:g}-%"
        engine = make_engine(self.database_url)
        with engine.connect() as conn:
            query = select(UssdHop.latency_ms).where(UssdHop.session_id.like(tag))
            values = list(conn.scalars(query))
        engine.dispose()
        return values


def _settings_env(database_url: str, redis_url: str) -> dict[str, str]:
    """Production mode, as deployed: the token is checked, no embedded defaults."""
    return dict(os.environ) | {
        "DATABASE_URL": database_url, "REDIS_URL": redis_url, "GATEWAY_ENV": "production",
        "GATEWAY_SECRET_KEY": SECRET_KEY, "GATEWAY_USSD_TOKEN": TOKEN,
        "GATEWAY_SMS_PROVIDER": "africastalking", "AT_USERNAME": "sandbox",
        "AT_API_KEY": "bench", "GATEWAY_SANDBOX_SECRET": SANDBOX_SECRET, "PYTHONUNBUFFERED": "1",
    }  # fmt: skip


def _report(rounds: list[dict[str, Run]], paced: list[Run]) -> None:
    """Issue 19's figures: the gateway's saturated throughput as a fraction of Flask's
    `CON hello` (and of the FLOOR), the median of the interleaved rounds; the server p99 of
    paced sessions (ussd_hops.latency_ms, taken after the hop's commit)."""
    print("\nratios per round (saturation, same sessions; medians below):")
    to_flask = [r["gateway"].rate / r["flask"].rate for r in rounds if r["flask"].rate]
    to_floor = [r["gateway"].rate / r["floor"].rate for r in rounds if r["floor"].rate]
    floor_flask = [r["floor"].rate / r["flask"].rate for r in rounds if r["flask"].rate]
    for n, r in enumerate(rounds, start=1):
        g, f, fl, b = (r[k].rate for k in ("gateway", "flask", "floor", "bare"))
        print(f"  round {n}: gateway {g:.0f}, floor {fl:.0f}, flask {f:.0f}, bare {b:.0f} hops/s")
    med = statistics.median(to_flask) if to_flask else 0.0
    verdict = "met" if med >= 0.25 else "missed"
    print(f"  gateway / Flask hello: median {med:.2f} (target >= 0.25: {verdict}); rounds "
          + ", ".join(f"{x:.2f}" for x in to_flask))  # fmt: skip
    if to_floor:
        print(f"  gateway / FLOOR: median {statistics.median(to_floor):.2f}; "
              f"FLOOR / Flask hello: median {statistics.median(floor_flask):.2f}")  # fmt: skip
    for run in paced:
        if run.server_ms:
            p99 = _pct([float(v) for v in sorted(run.server_ms)], 99)
            client = _pct(sorted(x * 1000 for x in run.latencies), 99)
            verdict = "met" if p99 < 20 else "missed"
            print(f"  p99 at {run.sessions} paced sessions, think {run.think_s:g} s: server "
                  f"{p99:.1f} ms (target < 20 on a quiet machine: {verdict}), "
                  f"client {client:.1f} ms")  # fmt: skip


def server_options(parser: argparse.ArgumentParser) -> None:
    """The gunicorn settings both HTTP benchmarks take (deploy/gunicorn.conf.py's kind)."""
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker (gthread)")


@contextmanager
def scratch_servers(name: str) -> Iterator[tuple[str, str]]:
    """A migrated PostgreSQL database and a Redis of the benchmark's own (bench/scratch.py):
    yields (database URL, Redis URL); both are gone at the end."""
    with scratch.database(name) as url, scratch.redis_server() as redis_url:
        yield url, redis_url


def run_or_skip(name: str, run: Callable[[str, str], None]) -> int:
    """`run(database URL, Redis URL)` on scratch servers; skipped, with the reason printed,
    when PostgreSQL or redis-server cannot be reached or started."""
    try:
        with scratch_servers(name) as (url, redis_url):
            run(url, redis_url)
    except scratch.Unavailable as exc:
        print(f"skipped: needs PostgreSQL and Redis ({exc})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=10.0, help="per saturation run")
    server_options(parser)
    parser.add_argument("--think", type=float, default=3.0, help="mean think time, paced runs")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved saturation rounds")
    parser.add_argument("--sessions", type=int, default=50, help="sessions per saturation run")
    parser.add_argument("--coverage-reps", type=int, default=300, help="coverage table hops")
    args = parser.parse_args(argv)
    return run_or_skip("ussd", lambda url, redis_url: _run(args, url, redis_url))


def _run(args: argparse.Namespace, url: str, redis_url: str) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-ussd-") as tmp:
        ctx = Bench(args, _settings_env(url, redis_url), Path(tmp) / "gunicorn.log", url)
        ctx.prepare()
        print(
            f"demo: {len(ctx.phones)} member phones; gunicorn gthread {args.workers} workers"
            f" x {args.threads} threads; {os.cpu_count()} CPUs shared with the client;"
            f" load average before: {_load_average()}"
        )
        print(HEADER)
        rounds: list[dict[str, Run]] = []
        with _servers(ctx) as ports:
            for n in range(args.rounds):
                order = list(ENDPOINTS)[n % 4 :] + list(ENDPOINTS)[: n % 4]  # rotate the order
                rounds.append({e: _measure(e, ports[e], args.sessions, 0.0, ctx) for e in order})
            paced = [_measure("gateway", ports["gateway"], n, args.think, ctx) for n in LEVELS]
        _report(rounds, paced)
        print(f"  load average after: {_load_average()} (the machine is shared: see the rounds)")
        coverage_table(url, args.coverage_reps)
        if any(run.errors for run in paced) or any(r["gateway"].errors for r in rounds):
            print(f"\nerrors seen: the gunicorn log follows\n{ctx.log.read_text()[-3000:]}")


def _load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


if __name__ == "__main__":
    sys.exit(main())
