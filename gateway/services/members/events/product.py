"""D1, D23: a household changes product only at a period boundary: refused in between; a
change dated at a coming boundary waits and applies on that day (the daily allocation run)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import Household, HouseholdEvent, Product
from gateway.services import ledger
from gateway.services.coverage import allocate, period_holding, release_shares
from gateway.services.members.events.change import Change, EventError


def change_product(
    session: Session, household: Household, change: Change, *, now: dt.datetime
) -> dict[str, Any]:
    """Check the change; apply it now when its day has come, else leave it pending."""
    product = _product(session, household, str(change.data.get("product") or ""))
    boundary = _next_boundary(household.product, now.date())
    current = period_holding(household.product, change.on)
    if change.on < now.date() or current.start != change.on:
        raise EventError(
            f"a product change takes effect at a period boundary: the next is {boundary}"
            f" (not {change.on})"
        )
    if period_holding(product, change.on).start != change.on:
        raise EventError(f"{product.code}'s periods do not start on {change.on}")
    payload = {"product": product.code, "previous": household.product.code}
    if change.on <= now.date():
        refuse_on_hold(session, household)
        _switch(session, household, product, change.on, now)
        return {**payload, "applied": True}
    return {**payload, "applied": False}


def apply_due_product_changes(
    session: Session, *, now: dt.datetime, mutual_id: int | None = None
) -> int:
    """Pending product changes whose day has come (the daily job, `gateway allocation run`):
    each household's latest product event, when it names another product. Safe to run twice;
    a mutual whose ledger is on hold waits until it is cleared."""
    query = select(HouseholdEvent).where(
        HouseholdEvent.type == "product", HouseholdEvent.effective_on <= now.date()
    )
    if mutual_id is not None:
        query = query.where(HouseholdEvent.mutual_id == mutual_id)
    latest: dict[int, HouseholdEvent] = {}
    for event in session.scalars(query.order_by(HouseholdEvent.id)):
        latest[event.household_id] = event
    applied = 0
    for event in latest.values():
        household = session.get(Household, event.household_id)
        assert household is not None
        code = event.payload["product"]
        if household.product.code != code and not ledger.on_hold(session, household.mutual_id):
            target = _product(session, household, code)
            _switch(session, household, target, event.effective_on, now)
            applied += 1
    return applied


def _switch(
    session: Session, household: Household, product: Product, on: dt.date, now: dt.datetime
) -> None:
    """Shares of periods from the boundary on, bought under the old product, go back to
    credit (reversing entries); the credit then buys the new product's periods (D7)."""
    why = f"product change of household {household.number} to {product.code} on {on}"
    before = on - dt.timedelta(days=1)
    release_shares(session, household, after=before, beneficiary_id=None, now=now, why=why)
    household.product_id = product.id
    session.flush()
    session.expire(household)
    allocate(session, household, on=now.date())


def _product(session: Session, household: Household, code: str) -> Product:
    query = select(Product).where(Product.mutual_id == household.mutual_id, Product.code == code)
    product = session.scalars(query).one_or_none()
    if product is None:
        raise EventError(f"unknown product {code!r}")
    if product.id == household.product_id:
        raise EventError(f"household {household.number} is already on {code}")
    return product


def _next_boundary(product: Product, today: dt.date) -> dt.date:
    current = period_holding(product, today)
    if current.start == today:
        return today
    return current.end + dt.timedelta(days=1)


def refuse_on_hold(session: Session, household: Household) -> None:
    """An event that moves money waits while a failed ledger audit holds the mutual
    (payments.md, Ledger): nothing is reversed until an operator clears it."""
    if ledger.on_hold(session, household.mutual_id):
        raise EventError("the mutual's ledger is on hold (failed audit): clear it first")
