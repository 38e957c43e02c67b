"""Reminders benchmark (messaging.md, "Throughput"; D14-D17; issue 19): a campaign over 100 000
households (households of 1 to 4 beneficiaries, each with a phone, none paid, 1 in 50 opted
out, one `opens` rule). Times (1) the due list (targets with their D6 amount, streamed in
batches: gateway.services.reminders.targets.iter_selections) and the process's peak RSS,
(2) the whole reminders run (due list, occurrence rows, outbox rows), and (3) sending every
queued message through the batch sender (worker.jobs.messaging.deliver: token bucket, claim,
one provider request per distinct text, per-recipient answers) to a fake Africa's Talking
service (the real adapter parsing the documented answer, no network). Baseline, in the same
run: the same number of rows inserted into a scratch table and read back, no logic.

    python -m bench.bench_reminders [--households N] [--due-only | --no-send] [--backend B]
        [--keep [--drop]]

The register is written by bulk SQL (INSERT ... SELECT over a series; 1 000 000 households in
about 4 minutes on PostgreSQL), then its three tables VACUUM ANALYZEd (ANALYZEd on SQLite).

SQLite always (a temporary file); PostgreSQL too when DATABASE_URL (or BENCH_DATABASE_URL) is
set, on a database of its own, `bench_reminders_<pid>`, created through BENCH_PG_ADMIN_URL
(default postgresql://root@127.0.0.1:5432/postgres, used only to create and drop it) and dropped
at the end (bench/scratch.py, issue 19); BENCH_DATABASE_URL may name an empty `bench_*` database
to use instead, which is then left in place. With --keep, PostgreSQL uses `bench_reminders_kept`
instead (created if missing, never dropped unless --drop): seeded once, its `bench_seed` row
saying how many households it holds, and reused by the next runs of that size (a run that is
not --due-only first deletes the earlier run's occurrences and outbox rows there). Redis: when
REDIS_URL is set, a private redis-server this benchmark starts and stops (REDIS_URL's own server
is never written to); else an embedded one in the run's temporary directory. The token bucket
runs with GATEWAY_SMS_RATE=1000000 so that it measures the sender, not the configured provider
limit."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Boolean, Date, Engine, bindparam, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from bench import scratch
from bench.bench_import import SKIPPED, wants_postgres
from gateway import migrate
from gateway.clock import FixedClock
from gateway.db import make_engine, make_session_factory
from gateway.models import Campaign, Mutual, OutboxMessage, OutboxStatus
from gateway.models.base import UTCDateTime
from gateway.providers.africastalking.sms import AfricasTalkingSms
from gateway.services.messaging import batches
from gateway.services.mutuals.config import load_mutual
from gateway.services.reminders.due import run_reminders
from gateway.services.reminders.targets import iter_selections
from gateway.settings import Settings
from worker import jobs
from worker.jobs.messaging import deliver

MUTUAL = """
[mutual]
code = "BENCH"
name = "Mutuelle de benchmark"
country = "BF"
timezone = "Africa/Ouagadougou"
sections = ["Nord", "Sud"]

[[products]]
code = "AMU"
name = "Garantie de base"
contribution = 7000
registration_fee = 1000

[[campaigns]]
code = "C2027"
name = "Campagne 2027"
opens_on = 2026-11-02
closes_on = 2027-01-31

[[campaigns.reminders]]
anchor = "opens"
"""
KEPT = "bench_reminders_kept"
NOW = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)  # 08:00 in Ouagadougou: window open
SERIES = {
    # n = 0 .. :last, in order
    "postgresql": "generate_series(0, :last) AS s(n)",
    "sqlite": "(WITH RECURSIVE s(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM s WHERE n < :last) "
    "SELECT n FROM s) AS s",
}
PAD7 = {  # the number's last 7 digits, zero-padded
    "postgresql": "lpad((h.id % 10000000)::text, 7, '0')",
    "sqlite": "printf('%07d', h.id % 10000000)",
}
SEED_HOUSEHOLDS = """
INSERT INTO households (mutual_id, number, digits, category, language, section_id, product_id,
                        reminders_enabled, dated_register, created_at)
SELECT :mutual, CAST(100000 + n AS VARCHAR(32)), CAST(100000 + n AS VARCHAR(32)), 'standard',
       CASE WHEN n % 5 = 0 THEN 'en' ELSE 'fr' END,
       CASE WHEN n % 2 = 0 THEN :section0 ELSE :section1 END, :product, n % 50 <> 0, :false,
       :now
FROM {series} ORDER BY n
"""
# 1 + id % 4 beneficiaries a household (head first), numbered household id + 01, 02, ...
SEED_BENEFICIARIES = """
INSERT INTO beneficiaries (mutual_id, household_id, number, digits, full_name, sex, relationship,
                           status, enrolled_on)
SELECT h.mutual_id, h.id, CAST(h.id AS VARCHAR(32)) || '0' || CAST(s.n AS VARCHAR(1)),
       CAST(h.id AS VARCHAR(32)) || '0' || CAST(s.n AS VARCHAR(1)), 'Awa Ouedraogo', 'F',
       CASE WHEN s.n = 1 THEN 'head' ELSE 'child' END, 'active', :enrolled
FROM households h JOIN {series} ON s.n BETWEEN 1 AND 1 + h.id % 4
WHERE h.mutual_id = :mutual ORDER BY h.id, s.n
"""
SEED_PHONES = """
INSERT INTO household_phones (household_id, msisdn, is_primary)
SELECT h.id, '+2267' || {pad7}, :true FROM households h WHERE h.mutual_id = :mutual ORDER BY h.id
"""


class FakeAtService:
    """Africa's Talking SMS API as documented: one Recipients row per number, 101 Sent."""

    def __init__(self) -> None:
        self.requests = 0
        self.recipients = 0

    def send(self, message: str, recipients: list[str], **_: Any) -> dict[str, Any]:
        self.requests += 1
        self.recipients += len(recipients)
        rows = [
            {
                "statusCode": 101,
                "number": phone,
                "status": "Success",
                "cost": "XOF 25.0000",
                "messageId": f"ATXid_{self.requests}_{i}",
            }
            for i, phone in enumerate(recipients)
        ]
        return {"SMSMessageData": {"Message": f"Sent to {len(rows)}", "Recipients": rows}}


@dataclass
class Result:
    backend: str
    households: int
    due_list_s: float
    targets: int
    rss_before_mb: float
    due_peak_mb: float
    run_s: float = 0.0
    queued: int = 0
    send_s: float = 0.0
    requests: int = 0
    baseline_s: float = 0.0

    def due_line(self) -> str:
        verdict = "met" if self.due_list_s < 20 and self.due_peak_mb < 500 else "missed"
        return (
            f"{self.backend:<10} due list {self.due_list_s:5.2f} s ({self.targets} targets), "
            f"RSS {self.rss_before_mb:.0f} MB before, peak {self.due_peak_mb:.0f} MB "
            f"(1 000 000 households: < 20 s and < 500 MB: {verdict} at this size)"
        )

    def line(self) -> str:
        if not self.send_s:
            return self.due_line()
        send_rate = self.queued / self.send_s
        base_rate = self.households / self.baseline_s
        return (
            self.due_line()
            + "\n"
            + (
                f"{'':<10} run (due list + record + queue) {self.run_s:5.2f} s "
                f"({self.queued} queued)  send {self.send_s:5.2f} s ({send_rate:6.0f} msg/s, "
                f"{self.requests} requests)  baseline insert+read {self.baseline_s:4.2f} s "
                f"({base_rate:7.0f} rows/s)  send/baseline {self.send_s / self.baseline_s:4.1f}x"
            )
        )


def populate(engine: Engine, households: int) -> None:
    """N households of 1-4 beneficiaries, each with a phone, none paid (all owe), 1 in 50
    opted out: the mutual and its campaign through the gateway's loader, the register by bulk
    SQL (INSERT ... SELECT over a series: 1 000 000 households in a few minutes, where rows
    sent from Python took hours on a loaded machine)."""
    factory = make_session_factory(engine)
    with factory.begin() as session:
        mutual = load_mutual(session, MUTUAL)
        params: dict[str, Any] = {
            "mutual": mutual.id,
            "product": mutual.products[0].id,
            "section0": mutual.sections[0].id,
            "section1": mutual.sections[1].id,
        }
    dialect = engine.dialect.name
    series = SERIES[dialect]
    with engine.begin() as conn:
        conn.execute(
            text(SEED_HOUSEHOLDS.format(series=series)).bindparams(
                bindparam("now", type_=UTCDateTime()), bindparam("false", type_=Boolean())
            ),
            {**params, "last": households - 1, "now": NOW, "false": False},
        )
        conn.execute(
            text(SEED_BENEFICIARIES.format(series=series)).bindparams(
                bindparam("enrolled", type_=Date())
            ),
            {"mutual": params["mutual"], "last": 4, "enrolled": dt.date(2025, 1, 15)},
        )
        conn.execute(
            text(SEED_PHONES.format(pad7=PAD7[dialect])).bindparams(
                bindparam("true", type_=Boolean())
            ),
            {"mutual": params["mutual"], "true": True},
        )
    # Statistics of the register as a live database has them; the tables a run fills (the
    # outbox, occurrences) are left without, as before the bulk seed, so that the run and
    # sending steps are measured as they were.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("households", "beneficiaries", "household_phones"):
            conn.execute(text(f"{'VACUUM ' if dialect == 'postgresql' else ''}ANALYZE {table}"))


def due_list(factory: sessionmaker[Session]) -> int:
    """The due list as a run builds it: streamed in bounded batches (iter_selections), each
    batch's targets let go before the next (issue 19)."""
    with factory() as session:
        mutual = session.scalars(select(Mutual)).one()
        campaign = session.scalars(select(Campaign)).one()
        return sum(
            len(part.targets) for part in iter_selections(session, mutual, campaign, NOW.date())
        )


def rss_mb() -> float:
    """This process's resident memory now (Linux /proc/self/statm)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (getrusage: kB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(factory: sessionmaker[Session]) -> int:
    with factory.begin() as session:
        return run_reminders(session, NOW).sent


def send_all(settings: Settings, batch: int) -> tuple[int, int]:
    """Deliver every QUEUED message in batches; returns (accepted, provider requests)."""
    ctx = jobs.configure(settings, FixedClock(NOW))
    adapter = AfricasTalkingSms("bench", "key")
    fake = FakeAtService()
    adapter._service = fake
    ctx.sms = adapter
    accepted = 0
    try:
        while True:
            with ctx.session() as session:
                pending = batches.pending_batches(session, batch, limit=batch * 50)
            if not pending:
                break
            for ids in pending:
                done = deliver(ctx, ids)
                accepted += sum(1 for outcome, _ in done.values() if outcome == "accepted")
    finally:
        ctx.close()
    return accepted, fake.requests


def baseline(engine: Engine, rows: int) -> None:
    """The floor: insert `rows` (household, phone, text) rows and read them back."""
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS bench_baseline")
        conn.exec_driver_sql(
            "CREATE TABLE bench_baseline (household_id INTEGER, phone TEXT, body TEXT)"
        )
    body = (
        "Mutuelle: campagne Campagne 2027 ouverte jusqu'au 31/01/2027. Menage 100001: 8 000 FCFA."
    )
    values = [(n, f"+2267{n:07d}", body) for n in range(rows)]
    mark = "?" if engine.dialect.name == "sqlite" else "%s"
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.executemany(f"INSERT INTO bench_baseline VALUES ({mark}, {mark}, {mark})", values)
        raw.commit()
        cursor.execute("SELECT household_id, phone, body FROM bench_baseline")
        assert len(cursor.fetchall()) == rows
    finally:
        raw.close()


def _timed(step: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = step()
    return time.perf_counter() - start, value


def bench(backend: str, url: str, households: int, var: Path, args: argparse.Namespace) -> Result:
    """One backend's run; Redis as the module's docstring says."""
    if not os.environ.get("REDIS_URL"):
        return _bench(backend, url, households, var, args, "")
    with scratch.redis_server() as redis_url:
        return _bench(backend, url, households, var, args, redis_url)


def _bench(
    backend: str, url: str, households: int, var: Path, args: argparse.Namespace, redis: str
) -> Result:
    migrate.upgrade(url)
    env = {
        "DATABASE_URL": url,
        "REDIS_URL": redis,  # empty: the embedded server under GATEWAY_VAR_DIR
        "GATEWAY_VAR_DIR": str(var),
        "GATEWAY_ENV": "test",
        "GATEWAY_SMS_RATE": "1000000",
        "GATEWAY_SMS_BATCH": str(args.batch),
    }
    settings = Settings.from_env(env)
    engine = make_engine(url)
    try:
        factory = make_session_factory(engine)
        if not args.keep or seeded(engine, households):
            took, _ = _timed(lambda: populate(engine, households))
            print(f"{backend}: {households} households populated in {took:.1f} s", flush=True)
            if args.keep:
                mark_seeded(engine, households)
        elif not args.due_only:
            clear_run(engine)
        before = rss_mb()
        due_s, targets = _timed(lambda: due_list(factory))
        result = Result(backend, households, due_s, targets, before, peak_rss_mb())
        if args.due_only:
            return result
        result.run_s, result.queued = _timed(lambda: run(factory))
        if args.no_send:
            print(f"{backend:<10} run (due list + record + queue) {result.run_s:5.2f} s "
                  f"({result.queued} queued), peak RSS {peak_rss_mb():.0f} MB; not sent "
                  "(--no-send)")  # fmt: skip
            return result
        result.send_s, (accepted, result.requests) = _timed(lambda: send_all(settings, args.batch))
        with factory() as session:
            sent = session.scalar(
                select(func.count()).where(OutboxMessage.status == OutboxStatus.SENT)
            )
        assert accepted == result.queued == sent, (accepted, result.queued, sent, targets)
        result.baseline_s, _ = _timed(lambda: baseline(engine, households))
    finally:
        engine.dispose()
    return result


def seeded(engine: Engine, households: int) -> bool:
    """Whether a kept database still needs its seed: False when its `bench_seed` row says it
    holds `households` households already; a database holding another seed is refused."""
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS bench_seed (households integer)"))
        held = conn.scalar(text("SELECT households FROM bench_seed"))
        if held == households:
            print(f"{KEPT}: {households} households reused")
            return False
        if held is not None or conn.scalar(text("SELECT count(*) FROM households")):
            raise SystemExit(f"{KEPT} holds another seed ({held}): run once with --drop first")
    return True


def mark_seeded(engine: Engine, households: int) -> None:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO bench_seed VALUES (:n)"), {"n": households})


def clear_run(engine: Engine) -> None:
    """A kept database's earlier run (occurrences, outbox): the run step starts from none."""
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM reminder_occurrences"))
        conn.execute(text("DELETE FROM outbox_messages"))


@contextmanager
def postgres_database(args: argparse.Namespace) -> Iterator[str]:
    """A scratch database of this run (scratch.database), or with --keep the kept
    `bench_reminders_kept`, created if missing and dropped only with --drop."""
    if not args.keep:
        with scratch.database("reminders") as url:
            yield url
        return
    try:
        yield scratch.kept(KEPT, scratch.admin_url())
    finally:
        if args.drop:
            scratch.forget(KEPT, scratch.admin_url())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--households", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=100, help="messages per send batch")
    parser.add_argument(
        "--due-only", action="store_true", help="the due list alone (time and peak memory)"
    )
    parser.add_argument(
        "--no-send", action="store_true", help="the due list and the run, not the sending"
    )
    parser.add_argument("--backend", choices=("both", "sqlite", "postgresql"), default="both")
    parser.add_argument(
        "--keep",
        action="store_true",
        help=f"PostgreSQL: seed {KEPT} once and reuse it on the next runs of the same size",
    )
    parser.add_argument("--drop", action="store_true", help=f"with --keep: drop {KEPT} at the end")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-reminders-") as tmp:
        print(f"campaign over {args.households} households (1 in 50 opted out)")
        sqlite_url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        if args.backend != "postgresql":
            print(bench("sqlite", sqlite_url, args.households, Path(tmp) / "var", args).line())
        if args.backend == "sqlite":
            return 0
        if not wants_postgres():
            print(SKIPPED)
            return 0
        try:
            with postgres_database(args) as url:
                result = bench("postgresql", url, args.households, Path(tmp) / "var", args)
        except scratch.Unavailable as exc:
            print(f"postgresql skipped: {exc}")
            return 0
        print(result.line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
