"""The indicator jobs (D22): recompute a mutual, and the periodic run over the dirty marks;
both safe to run twice (the same rows)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.clock import FixedClock
from gateway.models import Indicator, IndicatorDirty
from gateway.settings import Settings
from tests.support.indicators import build
from worker import jobs
from worker.jobs.indicators import recompute_dirty_indicators, recompute_indicators
from worker.schedule import SCHEDULE

NOW = dt.datetime(2026, 3, 15, 12, tzinfo=dt.UTC)


@pytest.fixture
def job_context(database_url: str, tmp_path: Path) -> Iterator[None]:
    settings = Settings.from_env(
        {"DATABASE_URL": database_url, "GATEWAY_VAR_DIR": str(tmp_path / "var")}
    )
    jobs.configure(settings, FixedClock(NOW))
    yield
    jobs.context().close()


def _rows(db: Session) -> list[tuple[object, ...]]:
    db.rollback()
    query = select(
        Indicator.mutual_id,
        Indicator.section_id,
        Indicator.period,
        Indicator.code,
        Indicator.key,
        Indicator.numerator,
        Indicator.denominator,
    )
    found: list[tuple[object, ...]] = sorted((tuple(r) for r in db.execute(query)), key=repr)
    db.rollback()
    return found


def test_the_dirty_job_recomputes_what_writes_marked_once(db: Session, job_context: None) -> None:
    db.expire_on_commit = False
    s = build(db)
    db.commit()
    a_id, b_id = s.a.id, s.b.id
    marks = db.scalar(select(func.count()).select_from(IndicatorDirty)) or 0
    assert marks > 0  # the flushes marked
    db.rollback()
    assert recompute_dirty_indicators() == 2
    first = _rows(db)
    assert ("2025", "PAID_UP") in {(r[2], r[3]) for r in first}
    assert recompute_dirty_indicators() == 0  # marks consumed
    assert recompute_indicators(str(a_id), "") > 0
    assert recompute_indicators(str(b_id), "2025-01-01") > 0
    assert set(first) <= set(_rows(db))  # the same rows again (and the earlier periods)


def test_the_dirty_job_is_scheduled() -> None:
    assert any(p.job == "recompute-dirty-indicators" for p in SCHEDULE)
