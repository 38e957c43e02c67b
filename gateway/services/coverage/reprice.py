"""D3, D23: a category change that lowers the member's share gives back the difference on the
periods already prepaid at the old share, from the first period open on its effective date:
each of their transactions is reversed and posted again at the new shares, on the day it was
first made (so nobody's cover moves), and the difference is household credit again."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import Allocation, CoveragePeriod, Household
from gateway.services.coverage.apply import allocate_group
from gateway.services.coverage.book import live_allocation, load_book
from gateway.services.coverage.date_order import reverse_allocations
from gateway.services.coverage.periods import Period, period_holding


def give_back_difference(
    session: Session, household: Household, *, since: dt.date, now: dt.datetime, why: str
) -> list[Allocation]:
    """Re-price at the household's current (lower) share the live shares of periods from the
    one open on `since` (D5: the period holding it while its join window is open, else the
    next); returns the allocations reversed (nothing when the share did not go down)."""
    book = load_book(session, household)
    first = _first_period(household, since)
    share = book.shares.contribution_member
    query = (
        select(Allocation)
        .join(CoveragePeriod, CoveragePeriod.id == Allocation.period_id)
        .where(Allocation.household_id == household.id, live_allocation())
        .where(CoveragePeriod.starts_on >= first, Allocation.member_amount > share)
        .order_by(Allocation.id)
    )
    dearer = list(session.scalars(query))
    if not dearer:
        return []
    reverse_allocations(session, dearer, on=now.date(), reason=why)
    book = load_book(session, household)
    by_id = {b.id: b for b in book.beneficiaries}
    groups: dict[tuple[str, int], list[Allocation]] = defaultdict(list)
    for allocation in dearer:
        assert allocation.period_id is not None  # joined on its period
        groups[(allocation.ledger_key, allocation.period_id)].append(allocation)
    for (_key, period_id), rows in sorted(groups.items()):
        row = session.get(CoveragePeriod, period_id)
        assert row is not None
        members = [by_id[a.beneficiary_id] for a in rows if a.beneficiary_id in by_id]
        period = Period(row.starts_on, row.ends_on)
        allocate_group(session, book, period, members, rows[0].allocated_on)
    session.flush()
    return dearer


def _first_period(household: Household, since: dt.date) -> dt.date:
    product = household.product
    holding = period_holding(product, since)
    if since <= holding.start + dt.timedelta(days=product.join_window_days):
        return holding.start
    return holding.end + dt.timedelta(days=1)
