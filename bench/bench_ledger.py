"""Ledger audit benchmark (issue 19, acceptance 5): the recent audit of one day's entries on a
50-million-entry ledger, next to a baseline measured in the same run (the same day's rows read
by one plain SQL query: transactions, entries and account names, in the order the audit reads
them). Then an old entry is edited behind the append-only triggers and the next recent audit
must find it.

    python -m bench.bench_ledger [--entries N] [--days D] [--mutuals M] [--rounds K]

Runs on PostgreSQL, in a database of its own, `bench_ledger_<pid>` (bench/scratch.py: created,
migrated, dropped at the end; BENCH_DATABASE_URL may name an empty `bench_*` database instead).
The ledger is seeded with set-based INSERT ... SELECT generate_series: mobile payments (Dr float
/ Cr household, two entries each) spread evenly over D days and M mutuals, with fingerprints
computed in SQL the way posting computes them, so that the audit of any day is clean. Each
round rolls back, so the mark starts at the day's first transaction every time; the figure is
the median of the rounds. Target: under 10 s for a day on 50 million entries."""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time

from sqlalchemy import Engine, bindparam, text
from sqlalchemy.orm import Session

from bench import scratch
from gateway.db import make_engine, make_session_factory
from gateway.models import LedgerAuditMark, Mutual
from gateway.services.ledger import audit_recent

FIRST_DAY = dt.date(2025, 1, 1)
HOUSEHOLDS = 10_000  # credit accounts per mutual: 1 million households, ~25 entries each
CHUNK = 1_000_000  # transactions per INSERT

ACCOUNTS = """
INSERT INTO ledger_accounts (mutual_id, name, kind, created_at)
SELECT m.id, 'asset:float:sandbox', 'asset', now() FROM mutuals m
UNION ALL
SELECT m.id, 'liab:household:' || h, 'liab', now()
FROM mutuals m CROSS JOIN generate_series(1, :households) AS h
"""

# Transaction i: mutual i % M, day i * D / N, household (i / M) % H, amount 500 + (i % 50) * 100.
TRANSACTIONS = """
INSERT INTO ledger_transactions
    (id, mutual_id, idempotency_key, kind, description, occurred_on, fingerprint, meta,
     created_at)
SELECT i, ids.ids[1 + i % :mutuals], 'pay:' || i, 'payment', '', day,
    encode(sha256(convert_to(
        '["pay:' || i || '","payment","' || to_char(day, 'YYYY-MM-DD')
        || '",[["asset:float:sandbox",' || (500 + (i % 50) * 100) || '],["liab:household:'
        || (1 + (i / :mutuals) % :households) || '",' || -(500 + (i % 50) * 100) || ']]]',
        'UTF8')), 'hex'),
    '{}', day + interval '12 hours'
FROM (SELECT array_agg(id ORDER BY id) AS ids FROM mutuals) AS ids,
    generate_series(CAST(:first AS bigint), :last) AS i,
    LATERAL (SELECT CAST(:start AS date) + CAST(i * :days / :total AS int) AS day) AS d
"""

ENTRIES = """
INSERT INTO ledger_entries (transaction_id, account_id, amount)
SELECT i, CASE side WHEN 0 THEN f.id ELSE h.id END, CASE side WHEN 0 THEN amount ELSE -amount END
FROM (SELECT array_agg(id ORDER BY id) AS ids FROM mutuals) AS ids,
    generate_series(CAST(:first AS bigint), :last) AS i,
    LATERAL (SELECT ids.ids[1 + i % :mutuals] AS mutual_id, 500 + (i % 50) * 100 AS amount,
        'liab:household:' || (1 + (i / :mutuals) % :households) AS household) AS x
    JOIN ledger_accounts f ON f.mutual_id = x.mutual_id AND f.name = 'asset:float:sandbox'
    JOIN ledger_accounts h ON h.mutual_id = x.mutual_id AND h.name = x.household
    CROSS JOIN (VALUES (0), (1)) AS s(side)
ORDER BY i, side
"""

BASELINE = """
SELECT t.id, t.idempotency_key, t.kind, t.occurred_on, t.fingerprint, t.mutual_id, a.name,
    e.amount
FROM ledger_transactions t
JOIN ledger_entries e ON e.transaction_id = t.id
JOIN ledger_accounts a ON a.id = e.account_id
WHERE t.id > :mark
ORDER BY t.id, e.id
"""


LEDGER_TABLES = ("ledger_transactions", "ledger_entries")
CONSTRAINTS = """
SELECT conname, conrelid::regclass::text, contype, pg_get_constraintdef(oid)
FROM pg_constraint
WHERE contype IN ('p', 'u', 'f')
    AND (conrelid::regclass::text IN :tables OR confrelid::regclass::text IN :tables)
"""
INDEXES = "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN :tables"


def _bulk(engine: Engine) -> list[str]:
    """Drop the ledger tables' keys and indexes for the bulk load (a bulk build is much faster
    than maintaining them row by row); returns the statements that put them back, the same."""
    tables = {"tables": LEDGER_TABLES}
    with engine.begin() as conn:
        constraints = conn.execute(
            text(CONSTRAINTS).bindparams(bindparam("tables", expanding=True)), tables
        ).all()
        names = {name for name, *_ in constraints}
        indexes = [
            (name, definition)
            for name, definition in conn.execute(
                text(INDEXES).bindparams(bindparam("tables", expanding=True)), tables
            )
            if name not in names
        ]
        ordered = sorted(constraints, key=lambda c: c[2] != "f")  # foreign keys first
        for name, table, _, _ in ordered:
            conn.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
        for name, _ in indexes:
            conn.execute(text(f'DROP INDEX "{name}"'))
    restore = [definition for _, definition in indexes]
    # Foreign keys NOT VALID: the seed is consistent by construction, and a validating scan of
    # 50 million rows would only slow the set-up (plans do not depend on it).
    restore += [
        f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
        + (" NOT VALID" if kind == "f" else "")
        for name, table, kind, definition in sorted(constraints, key=lambda c: c[2] == "f")
    ]
    return restore


def seed(engine: Engine, transactions: int, days: int, mutuals: int) -> None:
    started = time.perf_counter()
    with Session(engine) as session:
        session.add_all(
            Mutual(code=f"M{n:03d}", name=f"Mutuelle {n}", country="BF") for n in range(mutuals)
        )
        session.commit()
    with engine.begin() as conn:
        conn.execute(text(ACCOUNTS), {"households": HOUSEHOLDS})
    params = {"mutuals": mutuals, "households": HOUSEHOLDS, "days": days, "total": transactions}
    restore = _bulk(engine)
    for first in range(1, transactions + 1, CHUNK):
        last = min(first + CHUNK - 1, transactions)
        with engine.begin() as conn:
            conn.execute(text(TRANSACTIONS), {**params, "first": first, "last": last,
                                              "start": FIRST_DAY})  # fmt: skip
            conn.execute(text(ENTRIES), {**params, "first": first, "last": last})
        rate = last / (time.perf_counter() - started)
        print(f"  seeded {last:,} transactions ({rate:,.0f}/s)", flush=True)
    for statement in restore:
        with engine.begin() as conn:
            conn.execute(text(statement))
    print(f"  keys and indexes rebuilt ({time.perf_counter() - started:.0f} s)", flush=True)
    with engine.begin() as conn:
        conn.execute(text("SELECT setval('ledger_transactions_id_seq', :n)"), {"n": transactions})
        conn.execute(text("ANALYZE"))


def day_start(engine: Engine, day: dt.date) -> tuple[int, int, int]:
    """(last transaction before the day, its last entry, the day's transactions)."""
    with engine.connect() as conn:
        before = conn.execute(
            text("SELECT coalesce(max(id), 0) FROM ledger_transactions WHERE occurred_on < :d"),
            {"d": day},
        ).scalar_one()
        entry = conn.execute(
            text("SELECT coalesce(max(id), 0) FROM ledger_entries WHERE transaction_id <= :t"),
            {"t": before},
        ).scalar_one()
        count = conn.execute(
            text("SELECT count(*) FROM ledger_transactions WHERE id > :t"), {"t": before}
        ).scalar_one()
    return int(before), int(entry), int(count)


def timed_audit(engine: Engine, mark: tuple[int, int], now: dt.datetime) -> tuple[float, int]:
    factory = make_session_factory(engine)
    with factory() as session:
        session.merge(
            LedgerAuditMark(name="recent", transaction_id=mark[0], entry_id=mark[1], change_id=0)
        )
        session.flush()
        started = time.perf_counter()
        run = audit_recent(session, now=now)
        elapsed = time.perf_counter() - started
        session.rollback()
    return elapsed, len(run.breaches)


def timed_baseline(engine: Engine, mark: int) -> float:
    started = time.perf_counter()
    with engine.connect() as conn:
        rows = conn.execute(text(BASELINE), {"mark": mark}).fetchall()
    elapsed = time.perf_counter() - started
    assert rows
    return elapsed


def tampered_is_found(engine: Engine, mark: tuple[int, int], now: dt.datetime) -> bool:
    """Edit an old entry as someone with database access would (replica mode skips the
    append-only triggers), then run the recent audit from the day's mark."""
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text("UPDATE ledger_entries SET amount = amount + 1 WHERE id = 7"))
    _, found = timed_audit(engine, mark, now)
    return found > 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=50_000_000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--mutuals", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    transactions = args.entries // 2
    try:
        with scratch.database("ledger") as url:
            engine = make_engine(url)
            print(f"seeding {transactions * 2:,} entries over {args.days} days...", flush=True)
            started = time.perf_counter()
            seed(engine, transactions, args.days, args.mutuals)
            print(f"seeded in {time.perf_counter() - started:.0f} s", flush=True)
            last_day = FIRST_DAY + dt.timedelta(days=args.days - 1)
            before, entry, count = day_start(engine, last_day)
            now = dt.datetime.combine(last_day, dt.time(23), dt.UTC) + dt.timedelta(days=1)
            audits, baselines = [], []
            for _ in range(args.rounds):
                baselines.append(timed_baseline(engine, before))
                elapsed, breaches = timed_audit(engine, (before, entry), now)
                assert breaches == 0, "the seeded ledger should audit clean"
                audits.append(elapsed)
            audit_s, base_s = statistics.median(audits), statistics.median(baselines)
            print(f"\none day: {count:,} transactions ({count * 2:,} entries) after #{before:,}")
            print(f"recent audit   median {audit_s:6.2f} s  (rounds: "
                  + ", ".join(f"{a:.2f}" for a in audits) + ")")  # fmt: skip
            print(f"plain SQL read median {base_s:6.2f} s")
            print(f"ratio {audit_s / base_s:.1f}x; target < 10 s: "
                  + ("met" if audit_s < 10 else "MISSED"))  # fmt: skip
            found = tampered_is_found(engine, (before, entry), now)
            print("an old entry edited behind the triggers: " + ("found" if found else "MISSED"))
            engine.dispose()
            return 0 if found else 1
    except scratch.Unavailable as exc:
        print(f"skipped: PostgreSQL unavailable ({exc})")
        return 0


if __name__ == "__main__":
    sys.exit(main())
