"""Releasing a mutual's ledger hold (payments.md, "Ledger"; D7, D20): the hold cleared, what it
stopped resumes in the same transaction: the households it kept from allocation are allocated
and the receipts it deferred (mobile and cash) are queued, now stating the coverage bought.

Here, at the top rank, because it drives coverage and both receipt senders (payments, agents),
which may not import each other."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.clock import local_date
from gateway.models import Household, LedgerHold, Mutual, Payment, Product, Subsidy
from gateway.services import agents, ledger, payments
from gateway.services.coverage import allocate, settle

# Payments dated from the day before the hold count as held: a receipt-bearing payment is dated
# its UTC or local day, and a receipt already queued is never queued twice (its dedupe key).
HELD_SLACK = dt.timedelta(days=1)


@dataclass(frozen=True)
class Released:
    hold: LedgerHold
    allocations: int  # allocation rows made for the mutual's households
    receipts: int  # receipts queued that the hold had deferred


def release(
    session: Session,
    mutual_id: int,
    *,
    by: str,
    reason: str,
    now: dt.datetime,
    force: bool = False,
) -> Released:
    """`ledger.clear` (refused while breaches remain, unless `force`), then allocation
    (D7) and the deferred receipts."""
    cleared = ledger.clear(session, mutual_id, by, reason, now=now, force=force)
    since = cleared.set_at.date() - HELD_SLACK
    mutual = session.get_one(Mutual, mutual_id)
    today = local_date(now, mutual.timezone)
    made = allocate_held(session, mutual_id, held_at=cleared.set_at, today=today, now=now)
    receipts = payments.queue_held_receipts(session, mutual_id, since, now)
    receipts += agents.send_held_receipts(session, mutual_id, since)
    return Released(cleared, made, receipts)


def allocate_held(
    session: Session, mutual_id: int, *, held_at: dt.datetime, today: dt.date, now: dt.datetime
) -> int:
    """D7 for the mutual's households a hold kept from allocation: the payments recorded
    during the hold applied in date order from the earliest one's date (D7b: the member is
    covered as if there had been no hold, D8's effective date), then whatever credit is usable
    today (what the daily job would have done meanwhile); fully subsidised households'
    automatic periods (D3) as of today. Returns the allocation rows made."""
    made = 0
    rows = session.execute(
        select(Payment.household_id, func.min(Payment.paid_on))
        .where(Payment.mutual_id == mutual_id, Payment.created_at >= held_at)
        .group_by(Payment.household_id)
    )
    first_paid: dict[int, dt.date] = {household_id: day for household_id, day in rows}
    for credit in ledger.household_credits(session, mutual_id):
        household = session.get_one(Household, credit.household_id)
        if (since := first_paid.get(household.id)) is not None:
            made += len(settle(session, household, since=since, now=now, why="ledger hold cleared"))
        made += len(allocate(session, household, on=today))
    for household in _subsidised(session, mutual_id):
        made += len(allocate(session, household, on=today))
    session.flush()
    return made


def _subsidised(session: Session, mutual_id: int) -> list[Household]:
    """The mutual's households whose member share is 0 (D3): paid automatically."""
    query = (
        select(Household)
        .join(Product, Product.id == Household.product_id)
        .join(
            Subsidy, (Subsidy.product_id == Product.id) & (Subsidy.category == Household.category)
        )
        .where(Household.mutual_id == mutual_id, Subsidy.member_share == 0)
        .order_by(Household.id)
    )
    return list(session.scalars(query))
