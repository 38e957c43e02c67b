"""Indicators benchmark (D22, issue 17, acceptance 5): recompute every indicator of 100
mutuals and 1 000 000 beneficiaries with two years of payments and allocations on PostgreSQL,
next to a baseline measured in the same run: the same rows (each beneficiary for each coverage
period with its live allocations, the reversals read to leave reversed ones out; the payments
with their intents) aggregated by one plain SQL statement of GROUP BYs, no logic, under the
session settings the recompute runs under (POSTGRES_SETTINGS; also timed under the server's
defaults, for information). Then a single late payment's recompute (the dirty mark its flush
leaves, read by the periodic job's service).

    python -m bench.bench_indicators [--beneficiaries N] [--mutuals M] [--rounds R] [--drop]

Targets: the full recompute under 60 s and within 5x of the baseline; one payment's recompute
under 1 s. PostgreSQL only (DATABASE_URL or BENCH_DATABASE_URL set to one, as the other
benchmarks). The database is `bench_indicators` (created through BENCH_PG_ADMIN_URL, see
bench/scratch.py, never one it did not name): seeded once with bulk SQL and REUSED on the next
run when its seed matches (a `bench_seed` row says what it holds); `--drop` drops it at the end."""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, select, text

from bench import scratch
from bench.bench_import import SKIPPED, wants_postgres
from gateway import migrate
from gateway.db import make_engine, make_session_factory
from gateway.models import Allocation, CoveragePeriod, Household, Payment
from gateway.services.indicators import POSTGRES_SETTINGS, recompute, recompute_dirty

NAME = "bench_indicators"
TODAY = dt.date(2026, 12, 7)
NOW = dt.datetime(2026, 12, 7, 12, tzinfo=dt.UTC)
PER_HOUSEHOLD = 4
FULL_LIMIT_S, RATIO_LIMIT, ONE_LIMIT_S = 60.0, 5.0, 1.0

SEED = [
    "INSERT INTO unions (code, name, created_at) VALUES ('UB', 'Union bench', now())",
    """INSERT INTO mutuals (code, name, country, timezone, languages, service_codes,
        quiet_hours_start, quiet_hours_end, catch_up_hours, payment_provider, payment_settings,
        created_at, union_id)
       SELECT 'M' || lpad(m::text, 3, '0'), 'Mutuelle ' || m, 'BF', 'Africa/Ouagadougou',
        '["fr"]', '[]', '20:00', '08:00', 48, 'sandbox', '{}', now(),
        (SELECT id FROM unions WHERE code = 'UB')
       FROM generate_series(1, :mutuals) m""",
    """INSERT INTO sections (mutual_id, name)
       SELECT m.id, 'S' || s FROM mutuals m, generate_series(1, 3) s""",
    """INSERT INTO funders (mutual_id, code, name) SELECT id, 'ETAT', 'Etat' FROM mutuals""",
    """INSERT INTO products (mutual_id, code, name, period, contribution, registration_fee,
        waiting_days, grace_days, join_window_days, coverage_start, installments,
        newborn_waiting, copay)
       SELECT id, 'STD', 'Base', 'year', 6000, 0, 60, 30, 30, '01-01', true, true, '{}'
       FROM mutuals""",
    """INSERT INTO subsidies (product_id, category, member_share, funder_id)
       SELECT p.id, 'indigent', 0, f.id FROM products p JOIN funders f USING (mutual_id)""",
    """INSERT INTO coverage_periods (product_id, starts_on, ends_on)
       SELECT p.id, make_date(y, 1, 1), make_date(y, 12, 31)
       FROM products p, generate_series(2025, 2026) y""",
    # Households: numbered 1..H, mutual by block, section by number, one in ten indigent,
    # enrolled between 2024-06-01 and 2026-10-31.
    """INSERT INTO households (mutual_id, number, digits, category, product_id, section_id,
        reminders_enabled, created_at)
       SELECT p.mutual_id, 'H' || h, h::text, CASE WHEN h % 10 = 0 THEN 'indigent'
        ELSE 'standard' END, p.id,
        (SELECT min(s.id) + (h % 3) FROM sections s WHERE s.mutual_id = p.mutual_id), true, now()
       FROM generate_series(1, :households) h
       JOIN products p ON p.mutual_id = (SELECT min(id) FROM mutuals) + (h - 1) / :per_mutual""",
    # Beneficiaries: four a household; one in twenty left (removed) in 2025-2026.
    """INSERT INTO beneficiaries (mutual_id, household_id, number, digits, full_name, sex,
        relationship, status, enrolled_on, left_on)
       SELECT h.mutual_id, h.id, h.number || '-' || b, h.digits || b, 'Membre', 'F',
        CASE WHEN b = 1 THEN 'head' ELSE 'child' END,
        CASE WHEN (h.id * 7 + b) % 20 = 0 THEN 'removed' ELSE 'active' END,
        DATE '2024-06-01' + (h.id % 880),
        CASE WHEN (h.id * 7 + b) % 20 = 0 THEN DATE '2025-03-01' + ((h.id + b) % 600) END
       FROM households h, generate_series(1, 4) b""",
    # Allocations: each beneficiary enrolled by the period's start is paid for it, but one
    # household in six (by number) each year.
    """INSERT INTO allocations (mutual_id, household_id, beneficiary_id, period_id, kind,
        member_amount, funder_amount, allocated_on, ledger_key, created_at, generation)
       SELECT b.mutual_id, b.household_id, b.id, cp.id, 'contribution',
        CASE WHEN h.category = 'indigent' THEN 0 ELSE 6000 END,
        CASE WHEN h.category = 'indigent' THEN 6000 ELSE 0 END,
        cp.starts_on + (b.household_id % 150), 'alloc:' || b.id || ':' || cp.id, now(), 0
       FROM beneficiaries b JOIN households h ON h.id = b.household_id
       JOIN coverage_periods cp ON cp.product_id = h.product_id
       WHERE b.enrolled_on <= cp.starts_on + 90
        AND (h.id + extract(year FROM cp.starts_on)::int) % 6 <> 0""",
    """INSERT INTO allocation_reversals (mutual_id, household_id, allocation_id, reversed_on,
        reason, created_at)
       SELECT mutual_id, household_id, id, allocated_on + 30, 'departure', now()
       FROM allocations WHERE id % 100 = 0""",
    # Payments: what each household's allocations of a year came to, by a channel per number.
    """INSERT INTO payments (mutual_id, household_id, amount, paid_on, channel, reference,
        ledger_key, created_at)
       SELECT a.mutual_id, a.household_id, sum(a.member_amount + a.funder_amount),
        min(a.allocated_on), (ARRAY['cash', 'mobile', 'bank', 'legacy'])[1 + a.household_id % 4],
        'P' || a.household_id || '-' || a.period_id, 'pay:' || a.household_id || ':' || a.period_id,
        now()
       FROM allocations a GROUP BY a.mutual_id, a.household_id, a.period_id""",
    """INSERT INTO payment_intents (mutual_id, household_id, reference, provider, msisdn, amount,
        currency, state, initiate_attempts, polls, expires_at, created_at, updated_at, payment_id)
       SELECT mutual_id, household_id, md5(id::text), CASE WHEN id % 2 = 0 THEN 'sandbox'
        ELSE 'cinetpay' END, '+22670000000', amount, 'XOF', 'SUCCEEDED', 1, 0, now(), now(),
        now(), id
       FROM payments WHERE channel = 'mobile'""",
]

# The rows the recompute reads, aggregated by plain GROUP BYs and no logic: every beneficiary
# (with its household) for every coverage period of its product, with its live allocations
# (reversed ones left out: the reversals are read, as the shares read them); and every payment
# with its household and its mobile-money intent (the provider splits the channel).
BASELINE = """
SELECT 'alloc' AS what, h.mutual_id, h.section_id, cp.id AS k, NULL AS y,
       count(*) AS n, sum(coalesce(a.member_amount, 0)) AS s
FROM beneficiaries b JOIN households h ON h.id = b.household_id
JOIN coverage_periods cp ON cp.product_id = h.product_id
LEFT JOIN (
    SELECT beneficiary_id, period_id, member_amount FROM allocations l
    WHERE NOT EXISTS (SELECT FROM allocation_reversals r WHERE r.allocation_id = l.id)
) a ON a.beneficiary_id = b.id AND a.period_id = cp.id
GROUP BY h.mutual_id, h.section_id, cp.id
UNION ALL
SELECT coalesce(i.provider, p.channel), p.mutual_id, h.section_id,
       extract(month FROM p.paid_on)::int, extract(year FROM p.paid_on)::int, count(*),
       sum(p.amount)
FROM payments p JOIN households h ON h.id = p.household_id
LEFT JOIN payment_intents i ON i.payment_id = p.id
GROUP BY coalesce(i.provider, p.channel), p.mutual_id, h.section_id,
         extract(year FROM p.paid_on), extract(month FROM p.paid_on)
"""


def _timed(step: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = step()
    return time.perf_counter() - started, result


def kept_database() -> str:
    """`bench_indicators`, created (and migrated) if missing; never dropped unless --drop."""
    url = scratch.kept(NAME, scratch.admin_url())
    migrate.upgrade(url)
    return url


def drop_database() -> None:
    scratch.forget(NAME, scratch.admin_url())


def seed(engine: Engine, mutuals: int, beneficiaries: int) -> float:
    """Bulk SQL, once: a later run with the same size reuses it (0 s)."""
    wanted = f"{mutuals}:{beneficiaries}"
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS bench_seed (what text)"))
        if conn.scalar(text("SELECT what FROM bench_seed")) == wanted:
            return 0.0
        if conn.scalar(text("SELECT count(*) FROM mutuals")):
            raise SystemExit(f"{NAME} holds another seed: run with --drop first")
    households = beneficiaries // PER_HOUSEHOLD
    params = {"mutuals": mutuals, "households": households, "per_mutual": -(-households // mutuals)}
    started = time.perf_counter()
    with engine.begin() as conn:
        for statement in SEED:
            conn.execute(text(statement), {k: v for k, v in params.items() if f":{k}" in statement})
        conn.execute(text("INSERT INTO bench_seed VALUES (:w)"), {"w": wanted})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    return time.perf_counter() - started


def late_payment(factory: Any) -> tuple[float, int]:
    """A household pays its 2025 shares late (today): payment + allocations flushed (the
    dirty mark), committed; then the periodic job's service recomputes what it marked."""
    with factory() as session:
        home = session.scalars(select(Household).where(Household.number == "H6")).one()
        period = session.scalars(
            select(CoveragePeriod).where(
                CoveragePeriod.product_id == home.product_id,
                CoveragePeriod.starts_on == dt.date(2025, 1, 1),
            )
        ).one()
        stamp = time.time_ns()
        session.add(
            Payment(
                mutual_id=home.mutual_id,
                household_id=home.id,
                amount=6000,
                paid_on=TODAY,
                channel="cash",
                reference=f"late-{stamp}",
                ledger_key=f"late-{stamp}",
            )
        )
        for n, ben in enumerate(home.beneficiaries):
            session.add(
                Allocation(
                    mutual_id=home.mutual_id,
                    household_id=home.id,
                    beneficiary_id=ben.id,
                    period_id=period.id,
                    kind="contribution",
                    member_amount=6000,
                    funder_amount=0,
                    allocated_on=TODAY,
                    ledger_key=f"late-{stamp}-{n}",
                    generation=stamp % 1_000_000 + n + 1,
                )
            )
        session.commit()
    with factory() as session:
        took, done = _timed(lambda: recompute_dirty(session, TODAY, NOW))
        session.commit()
    return took, done


def _baseline(engine: Engine, settings: tuple[str, ...]) -> tuple[float, int]:
    with engine.begin() as conn:
        for setting in settings:
            conn.execute(text(setting))
        return _timed(lambda: len(conn.execute(text(BASELINE)).all()))


def bench(url: str, mutuals: int, beneficiaries: int, rounds: int) -> bool:
    """A first baseline reads the rows into the caches (not counted); then `rounds` rounds of
    the baseline and the full recompute, interleaved, and as many late payments: medians."""
    engine = make_engine(url)
    factory = make_session_factory(engine)
    seeded = seed(engine, mutuals, beneficiaries)
    print(
        f"seed: {'reused' if not seeded else f'{seeded:.1f} s'} ({mutuals} mutuals, "
        f"{beneficiaries} beneficiaries)"
    )
    with factory() as session:
        session.execute(text("DELETE FROM indicator_dirty"))
        ids = list(session.scalars(text("SELECT id FROM mutuals ORDER BY id")))
        session.commit()
    plain, _ = _baseline(engine, ())
    bases: list[float] = []
    fulls: list[float] = []
    ones: list[float] = []
    for n in range(1, rounds + 1):
        base, groups = _baseline(engine, POSTGRES_SETTINGS)
        with factory() as session:
            full, written = _timed(lambda: recompute(session, ids, None, TODAY, NOW))
            session.commit()
        one, done = late_payment(factory)
        bases.append(base)
        fulls.append(full)
        ones.append(one)
        print(
            f"round {n}: baseline {base:.2f} s ({groups} groups), full recompute {full:.2f} s "
            f"({written} rows, {full / base:.1f}x), one late payment {one:.3f} s ({done} mutual)"
        )
    base, full, one = (statistics.median(found) for found in (bases, fulls, ones))
    ratio = full / base if base else float("inf")
    print(f"baseline (one GROUP BY over the same rows): median {base:.2f} s")
    print(f"  under the server's default settings (first read, caches cold): {plain:.2f} s")
    print(f"full recompute: median {full:.2f} s, {ratio:.1f}x the baseline")
    print(f"one late payment's recompute: median {one:.3f} s")
    ok = full < FULL_LIMIT_S and ratio <= RATIO_LIMIT and one < ONE_LIMIT_S
    print("targets (<60 s, <=5x, <1 s):", "met" if ok else "MISSED")
    engine.dispose()
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--beneficiaries", type=int, default=1_000_000)
    parser.add_argument("--mutuals", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (medians)")
    parser.add_argument("--drop", action="store_true", help="drop bench_indicators at the end")
    parser.add_argument("--seed-only", action="store_true", help="seed (or check the seed), no run")
    args = parser.parse_args(argv)
    if not wants_postgres():
        print(SKIPPED)
        return 0
    try:
        url = kept_database()
    except scratch.Unavailable as exc:
        print(f"PostgreSQL skipped: {exc}")
        return 0
    if args.seed_only:
        engine = make_engine(url)
        took = seed(engine, args.mutuals, args.beneficiaries)
        engine.dispose()
        print(f"seed: {took:.1f} s" if took else "seed: reused")
        return 0
    try:
        bench(url, args.mutuals, args.beneficiaries, max(1, args.rounds))
    finally:
        if args.drop:
            drop_database()
    return 0  # the figures are the result; "MISSED" says a target was not met


if __name__ == "__main__":
    sys.exit(main())
