"""The daily allocation job (D7) applies the product changes due that day first (D23)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.clock import FixedClock
from gateway.models import Household, Product
from gateway.settings import Settings
from tests.support.events import record
from tests.support.factories import make_household, make_mutual
from worker import jobs
from worker.jobs.coverage import daily_allocation

NOW = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def job_context(database_url: str, tmp_path: Path) -> Iterator[None]:
    settings = Settings.from_env(
        {"DATABASE_URL": database_url, "GATEWAY_VAR_DIR": str(tmp_path / "var")}
    )
    jobs.configure(settings, FixedClock(NOW))
    yield
    jobs.context().close()


def test_the_daily_job_switches_products_due_that_day(db: Session, job_context: None) -> None:
    mutual = make_mutual(db)
    household = make_household(db, mutual, members=1)
    db.add(
        Product(
            mutual_id=mutual.id,
            code="PLUS",
            name="Plus",
            period="year",
            contribution=9000,
            registration_fee=0,
            waiting_days=60,
            grace_days=30,
            join_window_days=30,
            coverage_start="01-01",
        )
    )
    db.flush()
    record(db, household, "product", dt.date(2027, 1, 1), NOW, product="PLUS")
    db.commit()
    daily_allocation("2026-12-31")
    query = select(Product.code).join(Household).where(Household.id == household.id)
    assert db.scalars(query).one() == "STD"
    db.rollback()
    daily_allocation("2027-01-01")
    assert db.scalars(query).one() == "PLUS"
