"""The ledger-audit jobs (issue 19; payments.md, "Ledger"): the nightly full audit and the
5-minute recent audit hold a breached mutual and alert the same way, once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gateway.clock import FixedClock
from gateway.models import Mutual
from gateway.services import ledger
from gateway.services.alerts import open_alerts
from gateway.settings import Settings
from tests.support.factories import make_mutual
from tests.support.ledger import pay, tamper
from worker import jobs
from worker.jobs.ledger import ledger_audit, ledger_audit_recent
from worker.schedule import SCHEDULE


@pytest.fixture
def clock(database_url: str, tmp_path: Path) -> Iterator[FixedClock]:
    """Hours ahead of the rows' recording time: the recent audit's mark passes them."""
    settings = Settings.from_env(
        {"DATABASE_URL": database_url, "GATEWAY_VAR_DIR": str(tmp_path / "var")}
    )
    clock = FixedClock(dt.datetime.now(dt.UTC) + dt.timedelta(hours=2))
    jobs.configure(settings, clock)
    yield clock
    jobs.context().close()


def test_both_audits_hold_and_alert_alike(
    db: Session, mutual: Mutual, engine: Engine, clock: FixedClock
) -> None:
    other = make_mutual(db, code="OTHER")
    pay(db, other, 9, 50, "pay:O1")
    entry_id = pay(db, mutual, 7, 6000, "pay:old").entries[0].id
    db.commit()
    assert ledger_audit_recent() == 0 and ledger_audit() == 0
    tamper(engine, "UPDATE ledger_entries SET amount = 1 WHERE id = :id", id=entry_id)
    assert ledger_audit_recent() == 2
    db.expire_all()
    assert ledger.on_hold(db, mutual.id) and not ledger.on_hold(db, other.id)
    alert = open_alerts(db, mutual.id)[0]
    assert alert.kind == "ledger_hold" and "'pay:old' (mutual MUT)" in alert.detail
    db.rollback()  # SQLite: one writer at a time
    assert ledger_audit() == 2  # the nightly audit finds it too, and adds no second hold
    assert ledger_audit_recent() == 0  # already seen: the hold is what stays
    db.expire_all()
    assert len(open_alerts(db)) == 1 and ledger.on_hold(db, mutual.id)


def test_the_recent_audit_runs_often_and_the_full_one_nightly() -> None:
    by_job = {entry.job: entry for entry in SCHEDULE}
    assert by_job["ledger-audit-recent"].every_s == 300
    assert by_job["ledger-audit"].daily_at == dt.time(2, 30)
