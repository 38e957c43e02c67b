"""Coverage-start notice helpers: a mutual in Nairobi (UTC+3, so the local day and the UTC day
differ near midnight) with the D11 example product, local moments, and what the outbox holds."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import Household, Mutual, OutboxMessage
from tests.support.factories import make_household, make_mutual

TIMEZONE = "Africa/Nairobi"
NAIROBI = dt.timezone(dt.timedelta(hours=3))


def nairobi_mutual(db: Session, **product: Any) -> Mutual:
    """make_mutual's D11 product (year from 01-01, waiting 60, grace 30, join window 30),
    languages fr and en, window 08:00-20:00 local, catch-up 48 h."""
    mutual = make_mutual(db, **product)
    mutual.timezone = TIMEZONE
    mutual.short_name = "MS Nairobi"
    db.flush()
    return mutual


def household(
    db: Session, mutual: Mutual, members: int = 1, phone: str | None = "+254700000001", **kw: Any
) -> Household:
    return make_household(db, mutual, members=members, phone=phone, **kw)


def local(day: dt.date, hour: int = 9, minute: int = 0) -> dt.datetime:
    """A moment of `day` in the mutual's timezone, as the UTC the job is given."""
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=NAIROBI).astimezone(dt.UTC)


def outbox(db: Session) -> list[OutboxMessage]:
    return list(db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
