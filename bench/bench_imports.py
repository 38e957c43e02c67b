"""Import memory benchmark (issue 15, acceptance 5): a generated provider statement and a
generated members register, written to disk, each imported into a fresh embedded SQLite file
(and, with --postgres, into a PostgreSQL database this benchmark creates and drops itself) by
a child process whose peak memory (VmHWM, the resident high-water mark) is reported next to
two baselines measured in the same run: the file's size, and the child's own peak before the
import (Python, SQLAlchemy and the gateway loaded, the database migrated). Target: peak
memory under 300 MB for a 1,000,000-line file.

    python -m bench.bench_imports [--lines N] [--kinds statement,members] [--postgres] [--no-sqlite]

--postgres creates `bench_imports_<pid>_<kind>` on BENCH_PG_ADMIN_URL (default
postgresql://root@127.0.0.1:5432/postgres, used only to CREATE and DROP that database) and
drops it afterwards, also on an error or Ctrl-C (bench/scratch.py, issue 19)."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

from bench import scratch
from bench.bench_import import MUTUAL
from bench.bench_import import generate as generate_members
from gateway.services.reconciliation.statement_formats import FIELDS

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)  # after every generated line
HEADER = list(FIELDS)  # the generic statement layout's columns
TARGET_MB = 300


def generate_statement(path: Path, lines: int) -> None:
    """A generic-layout statement: one line per transaction over the 60 days before NOW, one
    in 50 failed, one in 1,000 repeated word for word (the duplicate-line rule is exercised)."""
    start = NOW - dt.timedelta(days=60)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        previous: list[str] = []
        for i in range(lines):
            if i % 1000 == 999:
                writer.writerow(previous)
                continue
            when = start + dt.timedelta(seconds=i * 5)
            previous = [
                f"TX{i:09d}",
                f"MB-{i:010d}",
                f"+226{70000000 + i % 9_999_999}",
                str(1000 + i % 50 * 100),
                "XOF",
                "FAILED" if i % 50 == 0 else "SUCCEEDED",
                when.strftime("%Y-%m-%d %H:%M:%S"),
                str(i % 7 * 10),
            ]
            writer.writerow(previous)


def peak_kb() -> int:
    """This process's resident high-water mark (VmHWM), in kB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def child(kind: str, url: str, path: Path) -> None:
    """Run in its own process: set the database up, note the peak, import, print JSON."""
    from gateway import migrate
    from gateway.db import make_engine, make_session_factory
    from gateway.models import Mutual
    from gateway.services.members import import_members
    from gateway.services.mutuals.config import load_mutual
    from gateway.services.reconciliation.statement_import import import_statement

    migrate.upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with factory.begin() as session:
        load_mutual(session, MUTUAL)
    before = peak_kb()
    start = time.perf_counter()
    with factory.begin() as session:
        mutual = session.scalars(select(Mutual).where(Mutual.code == "BENCH")).one()
        if kind == "statement":
            # BENCH_AS_BYTES: the file read whole first, as the import took it before issue 15
            data = path.read_bytes() if os.environ.get("BENCH_AS_BYTES") else path
            result = import_statement(session, mutual, "sandbox", data, now=NOW)
            outcome = f"{result.added} added, {result.duplicates} duplicates"
        else:
            report = import_members(session, mutual, path, today=NOW.date())
            outcome = f"{report.beneficiaries_created} beneficiaries created"
    seconds = time.perf_counter() - start
    engine.dispose()
    print(json.dumps({"before_kb": before, "peak_kb": peak_kb(), "s": seconds, "out": outcome}))


def run_child(kind: str, url: str, path: Path) -> dict[str, object]:
    command = [sys.executable, "-m", "bench.bench_imports", "--child", kind, url, str(path)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=Path.cwd())
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1:]}
    found: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def report(kind: str, backend: str, path: Path, found: dict[str, object]) -> str:
    size_mb = path.stat().st_size / 1e6
    if "error" in found:
        return f"{kind:<9} {backend:<10} file {size_mb:7.1f} MB  FAILED: {found['error']}"
    peak = int(str(found["peak_kb"])) / 1024
    before = int(str(found["before_kb"])) / 1024
    verdict = "met" if peak < TARGET_MB else "missed"
    return (
        f"{kind:<9} {backend:<10} file {size_mb:7.1f} MB  peak {peak:6.0f} MB "
        f"(before import {before:4.0f} MB; {peak / size_mb:4.2f}x the file)  "
        f"{float(str(found['s'])):7.1f} s  {found['out']}  target < {TARGET_MB} MB: {verdict}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--kinds", default="statement,members")
    parser.add_argument("--postgres", action="store_true", help="also a created PostgreSQL db")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "URL", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], args.child[1], Path(args.child[2]))
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-imports-") as tmp:
        for kind in args.kinds.split(","):
            path = Path(tmp) / f"{kind}.csv"
            start = time.perf_counter()
            (generate_statement if kind == "statement" else generate_members)(path, args.lines)
            took = time.perf_counter() - start
            print(f"{kind}: {args.lines} lines, {path.stat().st_size:,} bytes ({took:.0f} s)")
            if not args.no_sqlite:
                url = f"sqlite:///{Path(tmp) / f'{kind}.db'}"
                print(report(kind, "sqlite", path, run_child(kind, url, path)), flush=True)
            if args.postgres:
                print(report(kind, "postgresql", path, _on_postgres(kind, path)), flush=True)
    return 0


def _on_postgres(kind: str, path: Path) -> dict[str, object]:
    """A database of its own, created and dropped here: no other database is touched. The
    child migrates it, so that its peak before the import counts the same work as SQLite's."""
    name = f"{scratch.PREFIX}imports_{os.getpid()}_{kind}"
    try:
        with scratch.created(name, scratch.admin_url()) as url:
            return run_child(kind, url, path)
    except scratch.Unavailable as exc:
        return {"error": [str(exc)]}


if __name__ == "__main__":
    sys.exit(main())
