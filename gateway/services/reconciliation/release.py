"""Releasing a mutual's ledger hold (payments.md, "Ledger"; D7, D20): the hold cleared, what it
stopped resumes in the same transaction: the households it kept from allocation are allocated
and the receipts it deferred (mobile and cash) are queued, now stating the coverage bought.

Here, at the top rank, because it drives coverage and both receipt senders (payments, agents),
which may not import each other."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.clock import local_date
from gateway.models import Household, LedgerHold, Mutual, Product, Subsidy
from gateway.services import agents, ledger, payments
from gateway.services.coverage import allocate

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
    made = allocate_held(session, mutual_id, since=since, today=local_date(now, mutual.timezone))
    receipts = payments.queue_held_receipts(session, mutual_id, since, now)
    receipts += agents.send_held_receipts(session, mutual_id, since)
    return Released(cleared, made, receipts)


def allocate_held(session: Session, mutual_id: int, *, since: dt.date, today: dt.date) -> int:
    """D7 for the mutual's households a hold kept from allocation: each household holding
    credit as of its last payment's date when that came during the hold (the member is covered
    as if there had been no hold, D8's effective date), then as of today (what the daily job
    would have done meanwhile); fully subsidised households' automatic periods (D3) as of today.
    Returns the allocation rows made."""
    made = 0
    for credit in ledger.household_credits(session, mutual_id):
        household = session.get_one(Household, credit.household_id)
        paid = credit.last_paid_on
        if paid is not None and since <= paid < today:
            made += len(allocate(session, household, on=paid))
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
