"""Beneficiary.active_on (D6) and its SQL, active_on_sql (the reminders' due list counts
active members in the database, issue 19), agree on every status and date."""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import Beneficiary
from gateway.models.beneficiary import STATUSES, active_on_sql
from tests.support.factories import add_beneficiary, make_household, make_mutual

DAY = dt.date(2026, 11, 2)
NEAR = (None, DAY - dt.timedelta(days=1), DAY, DAY + dt.timedelta(days=1))


def test_active_on_and_its_sql_agree(db: Session) -> None:
    household = make_household(db, make_mutual(db), members=0)
    for status, enrolled, left in itertools.product(STATUSES, NEAR[1:], NEAR):
        assert enrolled is not None
        add_beneficiary(db, household, enrolled, status=status, left_on=left)
    db.flush()
    everyone = list(db.scalars(select(Beneficiary).where(Beneficiary.household_id == household.id)))
    assert len(everyone) == len(STATUSES) * 3 * 4
    for day in NEAR[1:]:
        assert day is not None
        by_sql = set(
            db.scalars(
                select(Beneficiary.id).where(
                    Beneficiary.household_id == household.id, active_on_sql(day)
                )
            )
        )
        by_python = {b.id for b in everyone if b.active_on(day)}
        assert by_sql == by_python
        assert 0 < len(by_python) < len(everyone)
