"""Operator console benchmark (issue 16, acceptance 4): PostgreSQL seeded with 10 million USSD
hops (2.5 million sessions with their end notifications), 1 million SMS with their delivery
outcome and 1 million payment intents (provider events; payments and ledger postings for the
succeeded ones) over 100 mutuals of 5 sections, 200 000 households and 600 000 beneficiaries,
spread over 90 days (bench/console_seed.py); then the console's pages are timed through the
real Flask app's test client, signed in as a manager of mutual 1 and as an all-scope admin:
the home page, the busy household's page (every 500th session, SMS and intent is its), the
USSD and SMS lists with their filters and a next page, and the member search by number, name
and phone. Each page's baseline, measured in the same run: the rows it shows read by plain SQL
with the same filters and LIMIT (bench/console_baselines.py). Targets: p95 < 300 ms and
within 5x of the baseline.

    python -m bench.bench_console [--scale 1] [--reps 30] [--database bench_console]
                                  [--temporary]

The database: `bench_console` (at another scale `bench_console_<scale>`), created through
BENCH_PG_ADMIN_URL (default postgresql://root@127.0.0.1:5432/postgres) when missing, migrated,
seeded, and LEFT IN PLACE: a second run finds its complete seed and only times (a seed cut
short resumes where it stopped). An existing database is used only if it is empty or holds
this benchmark's seed marker. `--temporary`: a `bench_console_<pid>` database dropped at the end
(bench/scratch.py). Redis: a private redis-server, stopped at the end."""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bench import console_baselines as base
from bench import scratch
from bench.console_seed import BUSY, NOW, SECRET, Size, seed, seeded
from gateway import migrate
from gateway.app import create_app
from gateway.clock import FixedClock
from gateway.console.paging import decode_cursor
from gateway.db import make_engine
from gateway.models import Role, ScopeKind, User
from gateway.services.operators import Actor, ScopeRef, add_user
from gateway.settings import Settings

P95_TARGET_MS = 300.0
RATIO_TARGET = 5.0
PASSWORD = "bench console password"
MANAGED = 1  # the manager's mutual (the busy household's)
_TOKEN = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
_NEXT = re.compile(r'<a id="next" href="([^"]+)"')


@dataclass(frozen=True)
class Case:
    """One page as one operator asks for it, and its plain-SQL baseline."""

    name: str
    who: str  # manager | admin
    url: str
    baseline: list[base.Query]


@dataclass(frozen=True)
class Timing:
    case: Case
    p50_ms: float
    p95_ms: float
    base_p50_ms: float
    base_p95_ms: float

    @property
    def ratio(self) -> float:
        return self.p95_ms / max(self.base_p95_ms, 0.001)

    @property
    def met(self) -> bool:
        return self.p95_ms < P95_TARGET_MS and self.ratio <= RATIO_TARGET


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1: 10 M hops, 1 M SMS/intents")
    parser.add_argument("--reps", type=int, default=30, help="timed requests per page")
    parser.add_argument("--warmup", type=int, default=3, help="untimed requests first")
    parser.add_argument("--only", default="", help="pages whose name starts so, comma-separated")
    parser.add_argument("--database", help="bench_* database kept between runs")
    parser.add_argument("--temporary", action="store_true", help="a database dropped at the end")
    args = parser.parse_args(argv)
    if not 0 < args.scale <= 10 or args.reps < 1 or args.warmup < 0:
        parser.error("--scale must be in (0, 10], --reps at least 1, --warmup at least 0")
    size = Size.of(args.scale)
    name = args.database or ("bench_console" if args.scale == 1 else _scaled_name(args.scale))
    if not scratch.NAME.fullmatch(name):
        parser.error(f"--database must be named bench_* (letters, digits, _), not {name!r}")
    try:
        with _database(name, args.temporary) as url, scratch.redis_server() as redis_url:
            only = tuple(p.strip() for p in args.only.split(",") if p.strip())
            timings, seed_s = _run(url, redis_url, size, (args.warmup, args.reps), only)
    except scratch.Unavailable as exc:
        print(f"console benchmark skipped: {exc}")
        return 0
    print(_table(timings, size, seed_s))
    return 0


def _scaled_name(scale: float) -> str:
    return "bench_console_" + re.sub(r"\W", "_", f"{scale:g}")


@contextmanager
def _database(name: str, temporary: bool) -> Iterator[str]:
    if temporary:
        with scratch.database("console") as url:
            yield url
        return
    url = scratch.kept(name, scratch.admin_url())
    _check_ours(url)
    migrate.upgrade(url)
    yield url


def _check_ours(url: str) -> None:
    """An existing database is filled only if empty or seeded by this benchmark before."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
    finally:
        engine.dispose()
    if tables and "bench_console_steps" not in tables:
        raise SystemExit(
            f"refusing {make_url(url).database}: it holds {len(tables)} tables and no seed of "
            "this benchmark; give an empty bench_* database or a new name"
        )


def _run(
    url: str, redis_url: str, size: Size, reps: tuple[int, int], only: tuple[str, ...]
) -> tuple[list[Timing], float | None]:
    engine = make_engine(url)
    try:
        seed_s = None
        if seeded(engine) != size.label():
            print(f"seeding {size.label()}")
            seed_s = seed(engine, size)
            print(f"seeded in {seed_s:.1f} s")
        else:
            print(f"reusing the seed ({size.label()})")
        with tempfile.TemporaryDirectory(prefix="bench-console-") as var:
            app = _app(url, redis_url, var)
            clients = {who: _signed_in(app, engine, who) for who in ("manager", "admin")}
            cases = [c for c in _cases(clients, size) if not only or c.name.startswith(only)]
            with engine.connect() as conn:
                return [_time(case, clients[case.who], conn, reps) for case in cases], seed_s
    finally:
        engine.dispose()


def _app(url: str, redis_url: str, var: str) -> Flask:
    env = {
        "DATABASE_URL": url,
        "REDIS_URL": redis_url,
        "GATEWAY_SECRET_KEY": SECRET,
        "GATEWAY_ENV": "development",
        "GATEWAY_VAR_DIR": var,
    }
    app = create_app(Settings.from_env(env))
    app.extensions["gateway"].clock = FixedClock(NOW)
    return app


def _signed_in(app: Flask, engine: Engine, who: str) -> FlaskClient:
    login = f"{who}@bench.example"
    with Session(engine) as db:
        if db.scalar(select(User.id).where(User.login == login)) is None:
            role, scope = (
                (Role.MANAGER, ScopeRef(ScopeKind.MUTUAL, mutual_id=MANAGED))
                if who == "manager"
                else (Role.ADMIN, ScopeRef(ScopeKind.ALL))
            )
            add_user(db, Actor(None), login=login, password=PASSWORD, role=role, scope=scope,
                     now=NOW, language="en", with_totp=False)  # fmt: skip
            db.commit()
    client = app.test_client()
    found = _TOKEN.search(client.get("/console/login").get_data(as_text=True))
    assert found, "no CSRF token on the login page"
    form = {"login": login, "password": PASSWORD, "csrf_token": found.group(1)}
    reply = client.post("/console/login", data=form)
    assert reply.status_code == 302, f"{who} could not sign in ({reply.status_code})"
    return client


def _cases(clients: dict[str, FlaskClient], size: Size) -> list[Case]:
    since = NOW - dt.timedelta(hours=24)
    window = base.Window(since, NOW)
    day = (NOW - dt.timedelta(days=2)).date()
    span = base.Window(
        dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC),
        dt.datetime.combine(NOW.date() + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC),
    )
    busy = "F0000001"
    msisdn = f"+22670{BUSY:06d}"
    cases: list[Case] = []
    for who, scope in (("manager", MANAGED), ("admin", None)):
        m = MANAGED
        cases += [
            Case("home", who, "/console/", base.home(scope, NOW)),
            Case("household (busy)", who, f"/console/households/{busy}",
                 base.household(scope, busy, BUSY, m, msisdn, SECRET)),
            Case("ussd", who, "/console/ussd", base.ussd(scope, window)),
            Case("ussd mutual+status", who, f"/console/ussd?mutual=BM{m:03d}&status=Success",
                 base.ussd(scope, base.Window(since, NOW, mutual_id=m, status="Success"))),
            Case("ussd errors", who, "/console/ussd?errors=1",
                 base.ussd(scope, base.Window(since, NOW, errors=True))),
            Case("sms", who, "/console/sms", base.sms(scope, window)),
            Case("sms filtered", who,
                 f"/console/sms?mutual={m}&from={day}&to={NOW.date()}&status=DELIVERED",
                 base.sms(scope, base.Window(span.since, span.until, m, "DELIVERED"))),
            Case("sms errors", who, "/console/sms?errors=1",
                 base.sms(scope, base.Window(since, NOW, errors=True))),
            Case("members number", who, "/console/members?q=0000421",
                 base.members(scope, "0000421", None)),
            Case("members name", who, "/console/members?q=sawadogo%20ami",
                 base.members(scope, "sawadogo ami", None)),
            Case("members phone", who, "/console/members?q=70000421",
                 base.members(scope, "70000421", "+22670000421")),
        ]  # fmt: skip
        cases += _next_pages(clients[who], who, scope, since)
    return cases


def _next_pages(client: FlaskClient, who: str, scope: int | None, since: dt.datetime) -> list[Case]:
    """Page 2 of each list, by the link page 1 shows."""
    found = []
    for name, first, make in (
        ("ussd next page", "/console/ussd", base.ussd),
        ("sms next page", "/console/sms", base.sms),
    ):
        link = _NEXT.search(client.get(first).get_data(as_text=True))
        if link is None:
            continue
        href = link.group(1).replace("&amp;", "&")
        cursor = parse_qs(urlsplit(href).query)["after"][0]
        at, last = decode_cursor(unquote(cursor))
        found.append(Case(name, who, href, make(scope, base.Window(since, NOW, after=(at, last)))))
    return found


def _time(case: Case, client: FlaskClient, conn: object, reps: tuple[int, int]) -> Timing:
    def page() -> None:
        reply = client.get(case.url)
        assert reply.status_code == 200, f"{case.url}: {reply.status_code}"

    def baseline() -> None:
        base.run(conn, case.baseline)  # type: ignore[arg-type]
        conn.rollback()  # type: ignore[attr-defined]

    pages, baselines = _measure(page, reps), _measure(baseline, reps)
    return Timing(case, _pct(pages, 50), _pct(pages, 95), _pct(baselines, 50), _pct(baselines, 95))


def _measure(action: Callable[[], None], reps: tuple[int, int]) -> list[float]:
    """`reps`: (untimed warm-up runs: plans, caches, the first connection; timed runs)."""
    for _ in range(reps[0]):
        action()
    found = []
    for _ in range(reps[1]):
        t0 = time.perf_counter()
        action()
        found.append((time.perf_counter() - t0) * 1000)
    return found


def _pct(values: list[float], p: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def _table(timings: list[Timing], size: Size, seed_s: float | None) -> str:
    seeded_line = f"seed {seed_s:.0f} s" if seed_s is not None else "seed reused"
    lines = [
        f"console pages: {size.hops} hops, {size.sms} SMS, {size.intents} intents, "
        f"{size.households} households, {size.mutuals} mutuals; {seeded_line}",
        f"{'page':<24} {'operator':<8} {'p50 ms':>8} {'p95 ms':>8} {'baseline p95 ms':>16} "
        f"{'ratio':>6}  target",
    ]
    for t in timings:
        lines.append(
            f"{t.case.name:<24} {t.case.who:<8} {t.p50_ms:>8.1f} {t.p95_ms:>8.1f} "
            f"{t.base_p95_ms:>16.1f} {t.ratio:>6.1f}  {'met' if t.met else 'MISSED'}"
        )
    missed = sum(not t.met for t in timings)
    lines.append(f"{len(timings) - missed} of {len(timings)} pages met p95 < "
                 f"{P95_TARGET_MS:.0f} ms and <= {RATIO_TARGET:.0f}x")  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
