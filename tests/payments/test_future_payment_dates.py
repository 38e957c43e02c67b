"""Issue 14: no path records a payment dated after the mutual's today (D7: money is allocated
as of the day it was paid). The history import refuses such lines (test_history_import), a
statement line dated later is refused too (a lost callback is credited as of its line), and
cash is dated by the one clock in the mutual's timezone."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.lib.csv_rows import ImportErrors
from gateway.models import Mutual, Payment, StatementLine
from gateway.services.agents.cash import collect_cash
from gateway.services.agents.registry import add_agent
from gateway.services.reconciliation.statement_import import import_statement
from tests.support.factories import make_household, make_mutual

HEADER = "provider_txn_id,reference,msisdn,amount,currency,status,occurred_at,fee\n"
NOW = dt.datetime(2026, 11, 24, 22, 30, tzinfo=dt.UTC)  # 01:30 on the 25th in Nairobi


def test_a_statement_line_after_today_is_refused(db: Session, mutual: Mutual) -> None:
    data = HEADER + "T1,,,100,XOF,SUCCEEDED,2026-11-24 10:00:00,0\n"
    data += "T2,,,100,XOF,SUCCEEDED,2026-11-25 00:00:00,0\n"
    with pytest.raises(ImportErrors) as raised:
        import_statement(db, mutual, "sandbox", data.encode(), now=NOW)
    assert raised.value.errors == [
        "line 3: occurred_at: 2026-11-25 00:00:00 is in the future (today is 2026-11-24)"
    ]
    assert db.scalar(select(func.count()).select_from(StatementLine)) == 0


def test_the_statement_day_is_the_mutuals(db: Session) -> None:
    """East of UTC the 25th has begun: its lines are not in the future."""
    mutual = make_mutual(db)
    mutual.timezone = "Africa/Nairobi"
    data = HEADER + "T2,,,100,XOF,SUCCEEDED,2026-11-24 23:00:00,0\n"  # after NOW, same day
    assert import_statement(db, mutual, "sandbox", data.encode(), now=NOW).added == 1


def test_cash_is_dated_on_the_mutuals_day(db: Session) -> None:
    mutual = make_mutual(db)
    mutual.timezone = "Africa/Nairobi"
    household = make_household(db, mutual, phone="+22676000001")
    agent = add_agent(db, mutual, phone="70000001", name="Ali", role="collector", pin="2580")
    collect_cash(db, agent=agent, household=household, amount=500, request_key="k", now=NOW)
    paid_on = db.scalars(select(Payment.paid_on)).one()
    assert paid_on == dt.date(2026, 11, 25)
