"""Coverage test helpers: money received the way the application receives it (receive_payment,
then allocation), so that statuses come from the real path."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from gateway.models import Household
from gateway.services.coverage.allocation import receive_payment


def pay(db: Session, household: Household, amount: int, day: dt.date, ref: str = "") -> None:
    reference = ref or f"P-{household.number}-{day.isoformat()}-{amount}"
    receive_payment(
        db, household=household, amount=amount, paid_on=day, channel="cash", reference=reference
    )
