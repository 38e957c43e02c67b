"""`gateway reconcile import | report | exceptions | assign | approve | ignore | run` and the
`reconcile` job (interfaces.md; payments.md, "Reconciliation")."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner, Result
from rq import Queue
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.cli import main
from gateway.models import ReconMatch, ReconMissing, StatementLine, SuspenseItem
from gateway.settings import Settings
from tests.support.reconciliation import STATEMENTS, golden_day
from tests.support.redis_url import redis_url_of
from worker import jobs, registry
from worker.rq_workers import SimpleWorker

Invoke = Callable[..., Result]
FILE = STATEMENTS / "sandbox_2026-11-24.csv"
BUCKETS = {"matched", "missing_in_ledger", "missing_in_statement", "amount_mismatch", "duplicate"}


@pytest.fixture
def env(database_url: str, redis_client: redis.Redis[bytes], tmp_path: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url_of(redis_client),
        "GATEWAY_ENV": "test",
        "GATEWAY_VAR_DIR": str(tmp_path / "var"),
    }


@pytest.fixture
def run(env: dict[str, str]) -> Invoke:
    def invoke(*args: str) -> Result:
        return CliRunner().invoke(main, ["reconcile", *args], env=env)

    return invoke


@pytest.fixture
def golden(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        mutual, _ = golden_day(session)
        mutual.payment_settings = {"approval_threshold": 5000}


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


@pytest.fixture
def job_context(env: dict[str, str]) -> Iterator[jobs.JobContext]:
    context = jobs.configure(Settings.from_env(env))
    yield context
    context.close()


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
