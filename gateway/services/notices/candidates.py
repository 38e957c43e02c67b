"""Which households may see a beneficiary's cover start on a day, found in the allocations
without loading any book (D8, D9).

A spell's cover starts on `effective + waiting_days` of its first paid period (D9), where the
effective date is the later of the period's first day and the allocation day (D8); a newborn
exempt from waiting (`newborn_waiting = false`) is covered from the effective date itself. So a
cover starting on day d comes from an allocation whose effective date is `d - waiting_days` (or
d): allocated that day into a period already started, or into a period starting that day and
allocated no later. Such an allocation starts a spell only if the same beneficiary has no
earlier period ending within `grace_days` before it: renewals without a lapse (no new waiting)
are left out here already. Fully subsidised households (D3) are found the same way: the daily
allocation job writes their automatic periods as allocations, dated the period's first day or
the enrolment day. The caller confirms each candidate with the household's real spells."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session, aliased

from gateway.models import Allocation, CoveragePeriod, Mutual, Product
from gateway.services.coverage import live_allocation


def effective_days(product: Product, day: dt.date) -> set[dt.date]:
    """The effective dates (D8) of a first paid period whose cover starts on `day` (D9)."""
    found = {day - dt.timedelta(days=product.waiting_days)}
    if not product.newborn_waiting:
        found.add(day)  # an exempt newborn's first spell has no waiting
    return found


def candidates(
    session: Session, mutual: Mutual, days: Iterable[dt.date]
) -> dict[int, set[dt.date]]:
    """Household id -> the days among `days` on which one of its spells may start cover."""
    found: dict[int, set[dt.date]] = {}
    products = session.scalars(select(Product).where(Product.mutual_id == mutual.id)).all()
    for product in products:
        by_effective: dict[dt.date, set[dt.date]] = {}
        for day in days:
            for effective in effective_days(product, day):
                by_effective.setdefault(effective, set()).add(day)
        for effective, starts in sorted(by_effective.items()):
            for household_id in _starting_on(session, mutual, product, effective):
                found.setdefault(household_id, set()).update(starts)
    return found


def _starting_on(
    session: Session, mutual: Mutual, product: Product, effective: dt.date
) -> list[int]:
    """Households with a paid period of `product` effective on `effective` that follows no
    paid period of the same beneficiary ending within grace before it (a new spell, D9)."""
    period = aliased(CoveragePeriod)
    earlier, earlier_period = aliased(Allocation), aliased(CoveragePeriod)
    lapse_from = effective - dt.timedelta(days=product.grace_days)
    continued = exists().where(
        earlier.beneficiary_id == Allocation.beneficiary_id,
        earlier_period.id == earlier.period_id,
        earlier_period.starts_on < period.starts_on,
        earlier_period.ends_on >= lapse_from,
        live_allocation(earlier),
    )
    query = (
        select(Allocation.household_id)
        .join(period, period.id == Allocation.period_id)
        .where(
            Allocation.mutual_id == mutual.id,
            Allocation.kind == "contribution",
            period.product_id == product.id,
            or_(
                and_(Allocation.allocated_on == effective, period.starts_on <= effective),
                and_(period.starts_on == effective, Allocation.allocated_on <= effective),
            ),
            ~continued,
            live_allocation(),
        )
        .distinct()
    )
    return list(session.scalars(query))
