"""A business day no statement covers (payments.md, "Reconciliation"; interfaces.md,
`gateway reconcile`): a normal case, not a failure. `gateway reconcile run` and the
`reconcile` job complete, the day's credited intents are missing_in_statement (`expected`:
no provider line to measure the settlement lag from), and the report says no statement
covers the day. A genuine failure of the job alerts an operator once its retries are spent."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
import redis
from click.testing import Result
from rq import Queue
from rq.job import JobStatus
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.models import Alert, ReconMissing
from gateway.services.reconciliation import FAILED_ALERT, ReconcileError, reconcile_days
from gateway.services.reconciliation.reconcile import import_and_reconcile
from tests.support.reconciliation import DAY, STATEMENTS, golden_day
from worker import jobs, registry
from worker.jobs import reconciliation as job_module
from worker.rq_workers import SimpleWorker

Invoke = Callable[..., Result]
FILE = STATEMENTS / "sandbox_2026-11-24.csv"
NOW = dt.datetime(2026, 11, 25, 6, 0, tzinfo=dt.UTC)
CREDITED = 4  # A, B, C and E of the golden day were credited on DAY
WHERE = ("--provider", "sandbox", "--mutual", "GOLD")


def report(run: Invoke, day: str) -> dict[str, Any]:
    result = run("report", *WHERE, "--day", day, "--json")
    assert result.exit_code == 0, result.output
    found: dict[str, Any] = json.loads(result.output)
    return found


def alerts(factory: sessionmaker[Session]) -> list[tuple[str, str, int | None]]:
    with factory() as session:
        rows = session.scalars(select(Alert).order_by(Alert.id))
        return [(a.kind, a.subject, a.mutual_id) for a in rows]


def test_the_root_cause_no_statement_ever_is_no_overflow(db: Session) -> None:
    """The settlement lag was measured from the max of an empty set (no line from the
    provider yet) minus the lag: `OverflowError: date value out of range`."""
    mutual, _ = golden_day(db)
    run = reconcile_days(db, mutual, "sandbox", [DAY])
    assert (run.days, run.acted, run.uncovered) == ((DAY,), 0, (DAY,))
    actions = db.scalars(select(ReconMissing.action)).all()
    assert actions == ["expected"] * CREDITED


def test_a_lag_reaching_before_any_date_leaves_everything_expected(db: Session) -> None:
    mutual, _ = golden_day(db)
    mutual.payment_settings = {"settlement_lag_hours": 10**12}
    import_and_reconcile(db, mutual, "sandbox", FILE.read_bytes(), filename="s.csv", now=NOW)
    assert db.scalars(select(ReconMissing.action)).all() == ["expected"]


def test_run_and_report_a_day_without_statement(run: Invoke, golden: None) -> None:
    result = run("run", *WHERE, "--day", "2026-11-24")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "reconciled sandbox GOLD 2026-11-24: 0 acted on, 0 settlement(s)",
        "no statement covers 2026-11-24: nothing to match; intents credited that day wait in "
        "missing_in_statement (import the statement with `gateway reconcile import`)",
    ]
    as_json = run("run", *WHERE, "--day", "2026-11-24", "--json")
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.output) == {
        "provider": "sandbox",
        "mutual": "GOLD",
        "day": "2026-11-24",
        "queued": False,
        "days": ["2026-11-24"],
        "acted": 0,
        "settlements": 0,
        "uncovered": ["2026-11-24"],
    }
    day = report(run, "2026-11-24")
    assert day["covered"] is False and day["lines"] == 0
    assert {k: v["count"] for k, v in day["buckets"].items()} == {
        "matched": 0,
        "missing_in_ledger": 0,
        "missing_in_statement": CREDITED,
        "amount_mismatch": 0,
        "duplicate": 0,
    }
    assert day["buckets"]["missing_in_statement"]["amount"] == CREDITED * 6000
    assert {e["action"] for e in day["exceptions"]} == {"expected"}
    assert day["difference"] == CREDITED * 6000 and day["unexplained"] == 0
    text = run("report", *WHERE, "--day", "2026-11-24").output
    assert text.splitlines()[2] == "no statement covers 2026-11-24: nothing matched"


def test_a_day_without_statement_beside_a_day_with_one(run: Invoke, golden: None) -> None:
    assert run("import", str(FILE), *WHERE).exit_code == 0
    result = run("run", *WHERE, "--day", "2026-11-25")
    assert result.exit_code == 0, result.output
    assert "no statement covers 2026-11-25" in result.output
    covered = run("run", *WHERE, "--day", "2026-11-24")
    assert covered.exit_code == 0 and "no statement covers" not in covered.output
    assert report(run, "2026-11-24")["covered"] is True
    empty = report(run, "2026-11-25")
    assert (empty["covered"], empty["lines"], empty["difference"]) == (False, 0, 0)
    queued = run("run", *WHERE, "--day", "2026-11-25", "--enqueue", "--json")
    assert json.loads(queued.output)["queued"] is True


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_days_at_the_ends_of_the_calendar_are_refused(run: Invoke, golden: None, day: str) -> None:
    for command in ("run", "report"):
        result = run(command, *WHERE, "--day", day)
        assert result.exit_code == 2 and "date out of range" in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)


def test_the_job_completes_a_day_without_statement(
    golden: None,
    session_factory: sessionmaker[Session],
    redis_client: redis.Redis[bytes],
    job_context: jobs.JobContext,
) -> None:
    queued = registry.enqueue(redis_client, "reconcile", "sandbox", "GOLD", "2026-11-24")
    queue = Queue(registry.RECONCILIATION, connection=redis_client)
    SimpleWorker([queue], connection=redis_client).work(burst=True)
    job = queue.fetch_job(queued.id)
    assert job is not None and job.get_status() == JobStatus.FINISHED and job.return_value() == 0
    assert alerts(session_factory) == []
    with session_factory() as session:
        assert len(session.scalars(select(ReconMissing)).all()) == CREDITED


def broken(*args: object, **kwargs: object) -> None:
    raise RuntimeError("statement table unreadable")


def test_a_failing_job_alerts_only_once_its_retries_are_spent(
    golden: None,
    session_factory: sessionmaker[Session],
    redis_client: redis.Redis[bytes],
    job_context: jobs.JobContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(job_module, "reconcile_days", broken)
    queue = Queue(registry.RECONCILIATION, connection=redis_client)
    queued = registry.enqueue(redis_client, "reconcile", "sandbox", "GOLD", "2026-11-24")
    SimpleWorker([queue], connection=redis_client).work(burst=True)
    job = queue.fetch_job(queued.id)
    # Retried later: no alert yet.
    assert job is not None and job.get_status() == JobStatus.SCHEDULED
    assert alerts(session_factory) == []
    # The last attempt (no retry left) alerts, and still fails in the queue.
    final = queue.enqueue_call(registry.spec("reconcile").path, ("sandbox", "GOLD", "2026-11-24"))
    SimpleWorker([queue], connection=redis_client).work(burst=True)
    last = queue.fetch_job(final.id)
    assert last is not None and last.get_status() == JobStatus.FAILED
    with session_factory() as session:
        mutual_id = session.scalars(select(Alert.mutual_id)).one()
        detail = session.scalars(select(Alert.detail)).one()
    assert alerts(session_factory) == [(FAILED_ALERT, "sandbox GOLD 2026-11-24", mutual_id)]
    assert mutual_id is not None and "RuntimeError: statement table unreadable" in detail
    # Called outside RQ it is its own last attempt; the alert is not raised twice.
    with pytest.raises(RuntimeError):
        job_module.reconcile("sandbox", "GOLD", "2026-11-24")
    assert len(alerts(session_factory)) == 1


@pytest.mark.parametrize(
    ("args", "subject", "reason"),
    [
        (("sandbox", "NOPE", "2026-11-24"), "sandbox NOPE 2026-11-24", "unknown mutual 'NOPE'"),
        (("sandbox", "GOLD", "24/11/2026"), "sandbox GOLD 24/11/2026", "must be a date"),
        (("paypal", "GOLD", "2026-11-24"), "paypal GOLD 2026-11-24", "unknown provider"),
    ],
)
def test_bad_job_arguments_alert_at_once_without_retrying(
    golden: None,
    session_factory: sessionmaker[Session],
    job_context: jobs.JobContext,
    args: tuple[str, str, str],
    subject: str,
    reason: str,
) -> None:
    assert job_module.reconcile(*args) == 0
    assert job_module.reconcile(*args) == 0
    assert [(kind, about) for kind, about, _ in alerts(session_factory)] == [
        (FAILED_ALERT, subject)
    ]
    with session_factory() as session:
        assert reason in session.scalars(select(Alert.detail)).one()


def test_reconcile_error_is_what_the_service_raises_for_bad_input(db: Session) -> None:
    mutual, _ = golden_day(db)
    with pytest.raises(ReconcileError, match="unknown provider"):
        reconcile_days(db, mutual, "paypal", [DAY])
