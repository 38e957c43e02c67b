"""Members import benchmark (interfaces.md, Files: Members): a generated register of 100 000
beneficiaries imported into an embedded SQLite file and, when DATABASE_URL is set, into
PostgreSQL; each next to a baseline measured in the same run (the same rows inserted with a
plain executemany into a scratch table, no validation).

    python -m bench.bench_import [--rows N]

PostgreSQL runs on a database of its own, `bench_import_<pid>`, created through
BENCH_PG_ADMIN_URL (default postgresql://root@127.0.0.1:5432/postgres, used only to create and
drop it) and dropped at the end (bench/scratch.py, issue 19); BENCH_DATABASE_URL may name an
empty `bench_*` database to use instead, which is then left in place. Nothing else is dropped."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bench import scratch
from gateway import migrate
from gateway.db import make_engine, make_session_factory
from gateway.models import Mutual
from gateway.services.members.importer import COLUMNS, import_members
from gateway.services.mutuals.config import load_mutual

MUTUAL = """
[mutual]
code = "BENCH"
name = "Mutuelle de benchmark"
country = "BF"
timezone = "Africa/Ouagadougou"
sections = ["Nord", "Sud", "Est", "Ouest"]

[[products]]
code = "AMU"
name = "Garantie de base"
contribution = 7000
registration_fee = 1000
subsidies = [{ category = "indigent", member_share = 0, funder = "Etat" }]
"""
FAMILY = ["Ouedraogo", "Sawadogo", "Kabore", "Traore", "Diallo", "Coulibaly", "Zongo"]
GIVEN = ["Aminata", "Ousmane", "Issa", "Awa", "Mariam", "Seydou", "Adama", "Salif"]
RELATIONS = ["spouse", "child", "child", "child", "parent", "other"]
SECTIONS = ["Nord", "Sud", "Est", "Ouest"]
POSTGRES_SWITCHES = ("DATABASE_URL", "BENCH_DATABASE_URL")
SKIPPED = "postgresql skipped (set DATABASE_URL to run it on a scratch database)"


@dataclass
class Result:
    backend: str
    rows: int
    seconds: float
    reimport_seconds: float
    baseline_seconds: float

    def line(self) -> str:
        rate = self.rows / self.seconds
        base_rate = self.rows / self.baseline_seconds
        return (
            f"{self.backend:<10} import {self.seconds:6.2f} s ({rate:8.0f} rows/s)  "
            f"re-import {self.reimport_seconds:6.2f} s  "
            f"baseline executemany {self.baseline_seconds:5.2f} s ({base_rate:8.0f} rows/s)  "
            f"ratio {self.seconds / self.baseline_seconds:5.1f}x"
        )


def generate(path: Path, rows: int, seed: int = 7) -> int:
    """A register of about 3.7 beneficiaries per household (Mali's average); returns the
    number of households."""
    rng = random.Random(seed)
    written = household = 0
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        while written < rows:
            household += 1
            size = min(rng.choice([1, 2, 3, 3, 4, 4, 5, 6, 7]), rows - written)
            family = rng.choice(FAMILY)
            for i in range(1, size + 1):
                writer.writerow(_member(rng, household, i, family))
            written += size
    return household


def _member(rng: random.Random, household: int, i: int, family: str) -> list[str]:
    head = i == 1
    national = f"7{household // 1_000_000 % 10}{household % 1_000_000:06d}"
    number = f"{100000 + household}"
    born = dt.date(rng.randint(1950, 2024), rng.randint(1, 12), rng.randint(1, 28))
    row = {
        "household_number": number,
        "member_number": f"{number}{i:02d}",
        "full_name": f"{rng.choice(GIVEN)} {family}",
        "sex": rng.choice("MF"),
        "birth_date": born.isoformat(),
        "relationship": "head" if head else rng.choice(RELATIONS),
        "enrolled_on": "2025-01-15",
    }
    if head:
        row["phone"] = " ".join(national[j : j + 2] for j in range(0, 8, 2))
        row["category"] = "indigent" if household % 40 == 0 else ""
        row["section"] = rng.choice(SECTIONS)
    return [row.get(column, "") for column in COLUMNS]


def bench(backend: str, url: str, csv_path: Path, rows: int) -> Result:
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        factory = make_session_factory(engine)
        with factory.begin() as session:
            load_mutual(session, MUTUAL)
        seconds = [_timed(lambda: _import(factory, csv_path)) for _ in range(2)]
        baseline = _timed(lambda: _baseline(engine, csv_path))
    finally:
        engine.dispose()
    return Result(backend, rows, seconds[0], seconds[1], baseline)


def _import(factory: sessionmaker[Session], csv_path: Path) -> None:
    with factory.begin() as session:
        mutual = session.scalars(select(Mutual).where(Mutual.code == "BENCH")).one()
        import_members(session, mutual, csv_path)


def _baseline(engine: Engine, csv_path: Path) -> None:
    """The floor: read the CSV and executemany the raw rows, nothing else."""
    columns = ", ".join(f"{name} TEXT" for name in COLUMNS)
    marks = ", ".join(["?" if engine.dialect.name == "sqlite" else "%s"] * len(COLUMNS))
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS bench_baseline")
        conn.exec_driver_sql(f"CREATE TABLE bench_baseline ({columns})")
    raw = engine.raw_connection()
    try:
        with csv_path.open(newline="", encoding="utf-8") as source:
            reader = csv.reader(source)
            next(reader)
            cursor = raw.cursor()
            cursor.executemany(f"INSERT INTO bench_baseline VALUES ({marks})", list(reader))
        raw.commit()
    finally:
        raw.close()


def _timed(run: Callable[[], None]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def wants_postgres() -> bool:
    """The PostgreSQL part runs when DATABASE_URL or BENCH_DATABASE_URL is set to one."""
    return any(os.environ.get(v, "").startswith("postgres") for v in POSTGRES_SWITCHES)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=100_000, help="beneficiaries to import")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        csv_path = Path(tmp) / "members.csv"
        households = generate(csv_path, args.rows)
        print(f"register: {args.rows} beneficiaries in {households} households")
        results = [bench("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}", csv_path, args.rows)]
        print(results[-1].line(), flush=True)
        if not wants_postgres():
            print(SKIPPED)
            return 0
        try:
            with scratch.database("import") as url:
                results.append(bench("postgresql", url, csv_path, args.rows))
        except scratch.Unavailable as exc:
            print(f"postgresql skipped: {exc}")
            return 0
        print(results[-1].line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
