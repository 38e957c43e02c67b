"""Operator alerts: one row per condition, resolvable; and jobs deferred until commit."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner
from rq import Queue
from sqlalchemy.orm import Session, sessionmaker

from gateway import queueing
from gateway.cli import main
from gateway.models import Alert
from gateway.services.alerts import open_alerts, raise_alert, resolve_alert
from tests.support.factories import make_mutual

NOW = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)


def test_raising_twice_keeps_one_alert(db: Session) -> None:
    first, created = raise_alert(
        db, kind="sms_balance", subject="campaign:C1", detail="405", now=NOW
    )
    again, created_again = raise_alert(
        db, kind="sms_balance", subject="campaign:C1", detail="405 again", now=NOW
    )
    assert created and not created_again
    assert again.id == first.id and again.detail == "405"
    assert db.query(Alert).count() == 1


def test_resolved_alerts_leave_the_open_list(db: Session) -> None:
    alert, _ = raise_alert(db, kind="k", subject="s", detail="d", now=NOW)
    assert [a.id for a in open_alerts(db)] == [alert.id]
    resolve_alert(db, alert.id, NOW)
    assert open_alerts(db) == []


def test_deferred_job_is_enqueued_only_after_commit(
    session_factory: sessionmaker[Session], redis_client: redis.Redis[bytes]
) -> None:
    queueing.enqueue_after_commit(session_factory, lambda: redis_client)
    queue = Queue(queueing.DEFAULT, connection=redis_client)
    with session_factory() as session:
        queueing.defer(session, "daily-allocation", "2026-11-24", job_id="after-commit-1")
        assert queue.job_ids == []
        session.rollback()
    assert queue.job_ids == []
    with session_factory() as session:
        queueing.defer(session, "daily-allocation", "2026-11-24", job_id="after-commit-2")
        session.commit()
    assert queue.job_ids == ["after-commit-2"]


def test_deferring_an_unknown_job_fails_at_once(db: Session) -> None:
    with pytest.raises(KeyError, match="unknown job"):
        queueing.defer(db, "no-such-job")


def test_alerts_command_lists_and_resolves(db: Session, database_url: str, tmp_path: Path) -> None:
    mutual = make_mutual(db, code="ALR")
    alert, _ = raise_alert(
        db, kind="payment_late", subject="intent:x", detail="late", now=NOW, mutual_id=mutual.id
    )
    db.commit()
    env = {"DATABASE_URL": database_url, "GATEWAY_ENV": "test", "GATEWAY_VAR_DIR": str(tmp_path)}
    runner = CliRunner()
    listed = runner.invoke(main, ["alerts", "--mutual", "ALR", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    assert [row["kind"] for row in json.loads(listed.output)] == ["payment_late"]
    unknown = runner.invoke(main, ["alerts", "--mutual", "NOPE"], env=env)
    assert unknown.exit_code != 0 and "unknown mutual 'NOPE'" in unknown.output
    resolved = runner.invoke(main, ["alerts", "resolve", str(alert.id)], env=env)
    assert resolved.exit_code == 0, resolved.output
    assert "no open alerts" in runner.invoke(main, ["alerts"], env=env).output
    missing = runner.invoke(main, ["alerts", "resolve", "999999"], env=env)
    assert missing.exit_code != 0 and "no alert #999999" in missing.output
