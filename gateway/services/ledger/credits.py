"""Households holding credit (payments.md, "Ledger": `liab:household:<id>`, money received and
not yet allocated, D7): the list a manager reads, and the households to allocate when a hold is
cleared."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import String, cast, func, literal, select
from sqlalchemy.orm import Session

from gateway.models import Account, Household, LedgerEntry, Payment
from gateway.services.ledger.accounts import HOUSEHOLD_PREFIX, household_accounts


@dataclass(frozen=True)
class HouseholdCredit:
    household_id: int
    number: str
    credit: int  # XOF, > 0
    last_paid_on: dt.date | None  # the latest payment's date (None: credit from elsewhere)


def household_credits(session: Session, mutual_id: int) -> list[HouseholdCredit]:
    """Every household of the mutual whose credit is above 0, with its last payment's date;
    largest credit first, then by number. One statement: credit per account and last payment
    per household are grouped in the database, never household by household."""
    total = func.sum(LedgerEntry.amount)
    held = (
        select(Account.name.label("name"), (-total).label("credit"))
        .join(LedgerEntry, LedgerEntry.account_id == Account.id)
        .where(Account.mutual_id == mutual_id, household_accounts())
        .group_by(Account.id, Account.name)
        .having(total < 0)
        .subquery()
    )
    last = (
        select(Payment.household_id, func.max(Payment.paid_on).label("last_paid_on"))
        .where(Payment.mutual_id == mutual_id)
        .group_by(Payment.household_id)
        .subquery()
    )
    account = literal(HOUSEHOLD_PREFIX, String) + cast(Household.id, String)
    query = (
        select(Household.id, Household.number, held.c.credit, last.c.last_paid_on)
        .join(held, held.c.name == account)
        .outerjoin(last, last.c.household_id == Household.id)
        .where(Household.mutual_id == mutual_id)
        .order_by(held.c.credit.desc(), Household.number)
    )
    return [
        HouseholdCredit(hid, number, int(credit), _day(paid))
        for hid, number, credit, paid in session.execute(query)
    ]


def _day(value: dt.date | str | None) -> dt.date | None:
    """SQLite hands an aggregate's date back as text."""
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(value)
