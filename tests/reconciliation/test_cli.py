"""`gateway reconcile import | report | exceptions | assign | approve | ignore | run` and the
`reconcile` job (interfaces.md; payments.md, "Reconciliation")."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from click.testing import Result
from rq import Queue
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.models import ReconMatch, ReconMissing, StatementLine, SuspenseItem
from tests.support.reconciliation import STATEMENTS
from worker import jobs, registry
from worker.rq_workers import SimpleWorker

Invoke = Callable[..., Result]
FILE = STATEMENTS / "sandbox_2026-11-24.csv"
BUCKETS = {"matched", "missing_in_ledger", "missing_in_statement", "amount_mismatch", "duplicate"}


def imported(run: Invoke, path: Path = FILE) -> Result:
    return run("import", str(path), "--provider", "sandbox", "--mutual", "GOLD")


def test_import_then_report_as_json(run: Invoke, golden: None) -> None:
    result = imported(run)
    assert result.exit_code == 0, result.output
    assert "9 line(s) added" in result.output
    result = run(
        "report", "--provider", "sandbox", "--mutual", "GOLD", "--day", "2026-11-24", "--json"
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["lines"] == 9 and set(report["buckets"]) == BUCKETS
    assert all(
        isinstance(b["count"], int) and isinstance(b["amount"], int)
        for b in report["buckets"].values()
    )
    assert report["difference"] == 6000 and report["unexplained"] == 0
    again = imported(run)
    assert "already imported, nothing added" in again.output
    text = run("report", "--provider", "sandbox", "--mutual", "GOLD", "--day", "2026-11-24")
    assert text.output.startswith("Reconciliation GOLD / sandbox / 2026-11-24\n")
    assert "matched                     4      4        4" in text.output


def test_a_bad_file_exits_1_with_every_reason(run: Invoke, golden: None, db: Session) -> None:
    result = imported(run, STATEMENTS / "bad.csv")
    assert result.exit_code == 1
    assert "8 problem(s), nothing imported" in result.output and "line 3: status" in result.output
    assert db.scalar(select(func.count()).select_from(StatementLine)) == 0


def test_bad_arguments_are_refused(run: Invoke, golden: None) -> None:
    assert (
        "unknown mutual 'NOPE'"
        in run("import", str(FILE), "--provider", "sandbox", "--mutual", "NOPE").output
    )
    bad_day = run("report", "--provider", "sandbox", "--mutual", "GOLD", "--day", "24/11/2026")
    assert bad_day.exit_code == 2 and "must be a date YYYY-MM-DD" in bad_day.output
    assert run("import", str(FILE), "--provider", "paypal", "--mutual", "GOLD").exit_code == 2


def test_an_unreadable_file_is_one_line(
    run: Invoke, golden: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(path: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    result = imported(run)
    assert result.exit_code == 1
    assert result.output == f"Error: {FILE}: cannot read: Permission denied\n"


def test_exceptions_assign_approve_and_ignore(run: Invoke, golden: None, db: Session) -> None:
    imported(run)
    listed = json.loads(run("exceptions", "--mutual", "GOLD", "--json").output)
    by_txn = {s["provider_txn_id"]: s["id"] for s in listed["suspense"]}
    assert set(by_txn) == {"TX-A2", "TX-F", "TX-G", "TX-H"}
    small = run("assign", str(by_txn["TX-G"]), "--household", "H001", "--by", "awa")
    assert small.exit_code == 0 and "assigned to household H001" in small.output
    large = run(
        "assign",
        str(by_txn["TX-H"]),
        "--household",
        "H007",
        "--by",
        "awa",
        "--reason",
        "two intents",
    )
    assert "awaits" in large.output
    action_id = json.loads(run("exceptions", "--json").output)["pending_approvals"][0]["id"]
    same = run("approve", str(action_id), "--by", "awa")
    assert same.exit_code == 1 and "another person must approve" in same.output
    assert run("approve", str(action_id), "--by", "issa").exit_code == 0
    ignored = run(
        "ignore", str(by_txn["TX-A2"]), "--reason", "refunded by the operator", "--by", "issa"
    )
    assert ignored.exit_code == 0
    twice = run("ignore", str(by_txn["TX-A2"]), "--reason", "again", "--by", "issa")
    assert twice.exit_code == 1 and "already IGNORED" in twice.output
    states = {s.provider_txn_id: s.state for s in db.scalars(select(SuspenseItem))}
    assert states == {"TX-A2": "IGNORED", "TX-F": "OPEN", "TX-G": "ASSIGNED", "TX-H": "ASSIGNED"}
    db.rollback()  # end the read: SQLite holds the file while a transaction is open
    shown = run("exceptions", "--mutual", "GOLD")
    assert shown.exit_code == 0, (shown.output, shown.exception)
    text = shown.output
    assert "open suspense lines: 1" in text and "awaiting approval: 0" in text


def test_the_reconcile_job_runs_once_per_day(
    run: Invoke,
    golden: None,
    session_factory: sessionmaker[Session],
    redis_client: redis.Redis[bytes],
    job_context: jobs.JobContext,
) -> None:
    imported(run)
    with session_factory() as session:
        session.execute(delete(ReconMissing))
        session.commit()
    queued = run(
        "run", "--provider", "sandbox", "--mutual", "GOLD", "--day", "2026-11-24", "--enqueue"
    )
    assert queued.exit_code == 0, queued.output
    queue = Queue(registry.RECONCILIATION, connection=redis_client)
    assert [j.id for j in queue.jobs] == ["reconcile-sandbox-GOLD-2026-11-24"]
    SimpleWorker([queue], connection=redis_client).work(burst=True)
    job = queue.fetch_job("reconcile-sandbox-GOLD-2026-11-24")
    assert job is not None and job.return_value() == 0  # every line was acted on at import
    with session_factory() as session:
        rows = session.scalar(select(func.count()).select_from(ReconMatch))
        missing = session.scalar(select(func.count()).select_from(ReconMissing))
        assert (rows, missing) == (9, 1)  # nine lines and the missing intent, recomputed
