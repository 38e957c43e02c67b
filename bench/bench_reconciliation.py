"""Reconciliation benchmark (payments.md, "Reconciliation"): 1 000 000 statement lines matched
against 1 000 000 payment intents on PostgreSQL, next to a baseline measured in the same run
(a plain SQL join of the lines and intents on the reference column, written to a table).

    python -m bench.bench_reconciliation [--lines N] [--rounds K]

Runs on PostgreSQL, in a database of its own, `bench_reconciliation_<pid>`, created through
BENCH_PG_ADMIN_URL (default postgresql://root@127.0.0.1:5432/postgres, used only to create and
drop databases; the role needs CREATEDB) and dropped at the end, also on an error or Ctrl-C;
BENCH_DATABASE_URL may name an empty `bench_*` database to use instead, which is then left in
place (bench/scratch.py, issue 19). The data is seeded once;
each of the K rounds (3 by default) then runs the baseline and the reconciliation on a fresh
copy of it (`<database>_round`, created and dropped; one that exists already is an error,
never dropped), and the ratio
reported is the median of the rounds' ratios: one run's wall clock on a shared machine
varies by 15-25 %, for the baseline as much as for the reconciliation. The data is generated with
set-based INSERT ... SELECT generate_series: most lines carry our reference (tier 1), some
only the provider's transaction id (tier 2) or only the phone and amount (tier 3); a few are
unknown, duplicated, of another amount, and some intents have no line. Target: the whole
reconciliation of the day (match, act on the exceptions, settle) under 120 s and within 5x
of the baseline: the same join written into an ordinary table, since matching stores one
result per line (the bare count of the join is printed beside it)."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from statistics import median

from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url

from bench import scratch
from gateway.db import make_engine, make_session_factory
from gateway.models import (
    Household,
    Mutual,
    Product,
    ReconMatch,
    ReconMissing,
    StatementFile,
)
from gateway.services.reconciliation.effects import apply_results, settle
from gateway.services.reconciliation.match import Scope, match
from gateway.services.reconciliation.reconcile import lag_hours
from gateway.services.reconciliation.statement_import import total_days

DAY = dt.date(2026, 11, 24)
START = "2026-11-24 06:00:00+00"
HOUSEHOLDS = 1000
EXCEPTIONS = 100  # each of: unknown lines, duplicate lines, intents without a line


def seed(engine: Engine, lines: int) -> tuple[int, int]:
    """A mutual, its households, `lines` credited intents (plus EXCEPTIONS without a line)
    and the statement: returns (mutual id, file id)."""
    factory = make_session_factory(engine)
    with factory.begin() as session:
        mutual = Mutual(code="BENCH", name="Bench", country="BF", languages=["fr"])
        product = Product(
            mutual=mutual,
            code="STD",
            name="Base",
            period="year",
            contribution=6000,
            registration_fee=0,
            waiting_days=0,
            grace_days=30,
            join_window_days=30,
            coverage_start="01-01",
        )
        session.add_all([mutual, product])
        session.flush()
        session.add_all(
            Household(mutual=mutual, number=f"B{n}", digits=f"{n}", product=product)
            for n in range(HOUSEHOLDS)
        )
        record = StatementFile(
            mutual_id=mutual.id,
            provider="sandbox",
            sha256="0" * 64,
            layout="generic",
            filename="bench.csv",
        )
        session.add(record)
        session.flush()
        mutual_id, file_id = mutual.id, record.id
    intents = lines + EXCEPTIONS
    params = {"m": mutual_id, "f": file_id, "n": intents, "lines": lines, "x": EXCEPTIONS}
    with engine.begin() as conn:
        first_household = conn.scalar(text("SELECT min(id) FROM households"))
        params["h"] = first_household
        conn.execute(text(PAYMENTS), params)
        conn.execute(text(INTENTS), params)
        conn.execute(text(LINES), params)
        conn.execute(text(EXTRA_LINES), params)
        total_days(conn, file_id)  # what the import keeps with the lines it adds
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    return mutual_id, file_id


# Intent g: reference md5('r'||g) as a UUID, transaction P<g>, phone +2267<g>, 6000 XOF,
# credited at START + g/20 s (payment g). Line g carries: our reference (most), only the
# transaction id (g % 1000 = 1), only the phone and amount (g % 1000 = 2), another amount
# (g % 10000 = 3). Intents past `lines` have no line (missing in statement).
PAYMENTS = """
INSERT INTO payments (id, mutual_id, household_id, amount, paid_on, channel, reference,
                      ledger_key, created_at)
SELECT g, :m, :h + g % 1000, 6000, DATE '2026-11-24', 'mobile', 'mm:' || g, 'payment:mm:' || g,
       now()
FROM generate_series(1, :n) AS g
"""
INTENTS = (
    """
INSERT INTO payment_intents (mutual_id, household_id, reference, provider, msisdn, amount,
    currency, state, provider_txn_id, payment_id, initiate_attempts, polls, expires_at,
    created_at, updated_at, completed_at)
SELECT :m, :h + g % 1000, md5('r' || g)::uuid::text, 'sandbox', '+2267' || lpad(g::text, 7, '0'),
       6000, 'XOF', 'SUCCEEDED', 'P' || g, g, 1, 0,
       TIMESTAMPTZ '"""
    + START
    + """' + g * interval '50 ms' + interval '1 hour',
       TIMESTAMPTZ '"""
    + START
    + """' + g * interval '50 ms',
       TIMESTAMPTZ '"""
    + START
    + """' + g * interval '50 ms',
       TIMESTAMPTZ '"""
    + START
    + """' + g * interval '50 ms' + interval '1 minute'
FROM generate_series(1, :n) AS g
"""
)
LINES = (
    """
INSERT INTO statement_lines (file_id, mutual_id, provider, line_no, natural_key,
    provider_txn_id, reference, msisdn, amount, fee, currency, status, occurred_at, day)
SELECT :f, :m, 'sandbox', g + 1, 'txn:' || txn, txn,
       CASE WHEN g % 1000 IN (1, 2) THEN NULL ELSE md5('r' || g)::uuid::text END,
       '+2267' || lpad(g::text, 7, '0'),
       CASE WHEN g % 10000 = 3 THEN 5000 ELSE 6000 END, 60, 'XOF', 'SUCCEEDED',
       TIMESTAMPTZ '"""
    + START
    + """' + g * interval '50 ms' + interval '2 minutes',
       DATE '2026-11-24'
FROM (SELECT g, CASE WHEN g % 1000 = 2 THEN 'Q' || g ELSE 'P' || g END AS txn
      FROM generate_series(1, :lines) AS g) AS s
"""
)
# Unknown money (no intent) and a second collection on an intent (duplicate).
EXTRA_LINES = (
    """
INSERT INTO statement_lines (file_id, mutual_id, provider, line_no, natural_key,
    provider_txn_id, reference, msisdn, amount, fee, currency, status, occurred_at, day)
SELECT :f, :m, 'sandbox', :lines + g + 1, 'txn:U' || g, 'U' || g,
       CASE WHEN g % 2 = 0 THEN md5('r' || g)::uuid::text END, '+22679' || lpad(g::text, 6, '0'),
       3000, 30, 'XOF', 'SUCCEEDED', TIMESTAMPTZ '"""
    + START
    + """' + g * interval '1 s',
       DATE '2026-11-24'
FROM generate_series(1, 2 * :x) AS g
"""
)
JOIN = "FROM statement_lines l JOIN payment_intents i ON i.reference = l.reference"


def checkpoint(engine: Engine) -> None:
    """Each timed part starts with the seed's (or the previous part's) dirty pages flushed,
    so that neither pays for the other's background writes."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("CHECKPOINT"))


def baseline(engine: Engine) -> tuple[float, float, int]:
    """The plain join on the reference column, twice: written into an ordinary table (one
    row per pair, as matching must store a result per line: the target's baseline), and
    only counted (no write at all)."""
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_pairs (line_id integer, intent_id integer)"))
    checkpoint(engine)
    with engine.begin() as conn:
        started = time.perf_counter()
        conn.execute(text(f"INSERT INTO bench_pairs SELECT l.id, i.id {JOIN}"))
        write_s = time.perf_counter() - started
    with engine.begin() as conn:
        started = time.perf_counter()
        rows = conn.scalar(text(f"SELECT count(*) {JOIN}")) or 0
        count_s = time.perf_counter() - started
        conn.execute(text("DROP TABLE bench_pairs"))
    return write_s, count_s, rows


def reconcile(engine: Engine, mutual_id: int) -> tuple[float, dict[str, int]]:
    """What `reconcile_days` does, phase by phase (match, act on exceptions, settle)."""
    factory = make_session_factory(engine)
    phases: dict[str, float] = {}
    checkpoint(engine)
    started = time.perf_counter()
    with factory.begin() as session:
        mutual = session.get_one(Mutual, mutual_id)
        scope = Scope(mutual.id, "sandbox", (DAY,))
        mark = time.perf_counter()
        match(session, scope, lag_hours(mutual))
        phases["match"], mark = time.perf_counter() - mark, time.perf_counter()
        acted = apply_results(session, scope, lag_hours(mutual))
        phases[f"act ({acted})"], mark = time.perf_counter() - mark, time.perf_counter()
        settle(session, scope)
        phases["settle"], mark = time.perf_counter() - mark, time.perf_counter()
    phases["commit"] = time.perf_counter() - mark
    seconds = time.perf_counter() - started
    print("  " + ", ".join(f"{name} {value:.2f} s" for name, value in phases.items()))
    with factory() as session:
        rows = session.execute(select(ReconMatch.bucket, func.count()).group_by(ReconMatch.bucket))
        buckets = {bucket: int(count) for bucket, count in rows}
        missing = session.scalar(select(func.count()).select_from(ReconMissing))
        buckets["missing_in_statement"] = int(missing or 0)
    return seconds, buckets


@dataclass(frozen=True)
class Round:
    baseline_s: float  # the join written to a table
    count_s: float  # the join only counted
    ours_s: float  # match, act, settle, commit
    again_s: float  # a rerun with nothing new
    buckets: dict[str, int]

    @property
    def ratio(self) -> float:
        return self.ours_s / self.baseline_s


def one_round(engine: Engine, mutual_id: int) -> Round:
    base_s, count_s, _ = baseline(engine)
    ours_s, buckets = reconcile(engine, mutual_id)
    again_s, _ = reconcile(engine, mutual_id)
    return Round(base_s, count_s, ours_s, again_s, buckets)


@contextmanager
def connected(url: str) -> Iterator[Engine]:
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def copy_of(url: str) -> Iterator[Engine]:
    """A database copied from the seeded one (its file copy, a PostgreSQL template, through
    bench/scratch.py), so that every round starts from the same state; dropped afterwards."""
    seeded = make_url(url).database or ""
    with ExitStack() as stack:
        try:
            copy = scratch.created(f"{seeded}_round", scratch.admin_url(), template=seeded)
            round_url = stack.enter_context(copy)
        except scratch.Unavailable as exc:
            sys.exit(f"cannot copy the seeded database for a round ({exc}); use --rounds 1")
        yield stack.enter_context(connected(round_url))


def report(rounds: list[Round], total: int) -> None:
    for n, r in enumerate(rounds, 1):
        print(
            f"round {n}: baseline {r.baseline_s:5.2f} s (count only {r.count_s:4.2f} s), "
            f"reconciliation {r.ours_s:5.2f} s, ratio {r.ratio:4.1f}x, rerun {r.again_s:4.2f} s"
        )
    base_s = median(r.baseline_s for r in rounds)
    ours_s = median(r.ours_s for r in rounds)
    print(
        f"baseline: join on reference written to a table {base_s:6.2f} s "
        f"({total / base_s:9.0f} lines/s), count only {median(r.count_s for r in rounds):4.2f} s"
    )
    print(
        f"reconciliation (match, act, settle)            {ours_s:6.2f} s "
        f"({total / ours_s:9.0f} lines/s)  target < 120 s"
    )
    ratios = sorted(r.ratio for r in rounds)
    print(
        f"ratio, median of {len(rounds)} rounds: {median(ratios):4.1f}x "
        f"(from {ratios[0]:.1f}x to {ratios[-1]:.1f}x)  target < 5x"
    )
    print("buckets: " + ", ".join(f"{k} {v}" for k, v in sorted(rounds[0].buckets.items())))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds, each on a copy of the seeded database (needs CREATEDB; 1: no copy)",
    )
    args = parser.parse_args(argv)
    if args.lines < 10_000 or args.rounds < 1:  # 10 000: every kind of line (1 in 10 000)
        parser.error("--lines must be at least 10000 and --rounds at least 1")
    logging.getLogger("gateway").setLevel(logging.ERROR)  # one alert per held line
    try:
        with scratch.database("reconciliation") as url:
            run(url, args.lines, args.rounds)
    except scratch.Unavailable as exc:
        print(f"skipped: needs PostgreSQL ({exc})")


def run(url: str, lines: int, rounds_wanted: int) -> None:
    """Seed the database at `url`, run the rounds, report; exits non-zero on a bucket error."""
    engine = make_engine(url)
    started = time.perf_counter()
    mutual_id, _ = seed(engine, lines)
    engine.dispose()
    total = lines + 2 * EXCEPTIONS
    print(
        f"generated {lines + EXCEPTIONS} intents, {total} lines in "
        f"{time.perf_counter() - started:.1f} s"
    )
    rounds = []
    for _ in range(rounds_wanted):
        with copy_of(url) if rounds_wanted > 1 else connected(url) as engine:
            rounds.append(one_round(engine, mutual_id))
    report(rounds, total)
    expected = total + EXCEPTIONS  # every line once, and the intents without a line
    placed = sum(rounds[0].buckets.values())
    if placed != expected or any(r.buckets != rounds[0].buckets for r in rounds):
        sys.exit(f"buckets hold {placed} lines and intents, expected {expected} in every round")


if __name__ == "__main__":
    main()
