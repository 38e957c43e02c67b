"""Recording a household event (D23): one row kept forever, then its effect on the register
and at once on the books (D3-D7), all in the caller's transaction. The members import can call
`record_event` with the changes it finds, so both paths agree (issue 18)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.models import Household, HouseholdEvent
from gateway.services.members.events.change import (
    ABOUT_BENEFICIARY,
    EVENT_TYPES,
    Change,
    EventError,
)
from gateway.services.members.events.effects import apply_change
from gateway.services.members.events.enrol import ENROL


@dataclass(frozen=True)
class Recorded:
    event: HouseholdEvent
    created: bool  # False: the same event was already the household's latest (a duplicate)


def record_event(
    session: Session, household: Household, change: Change, *, now: dt.datetime
) -> Recorded:
    """D23: check the change, apply it and its D3-D7 effects, and keep the event. Submitting
    again the household's latest event (a double click, a replayed request) records nothing."""
    _check_shape(household, change)
    digest = _digest(household, change)
    latest = _latest(session, household)
    if latest is not None and latest.payload.get("digest") == digest:
        return Recorded(latest, created=False)
    if not change.reason.strip():
        raise EventError("a reason is required (D23: who recorded it and why)")
    payload = apply_change(session, household, change, now=now)
    event = HouseholdEvent(
        mutual_id=household.mutual_id,
        household_id=household.id,
        beneficiary_id=_beneficiary_id(change, payload),
        type=change.type,
        effective_on=change.on,
        payload={**payload, "digest": digest},
        reason=change.reason.strip()[:300],
        recorded_by=(change.by.strip() or "unknown")[:100],
        recorded_at=now,
        key=f"{household.id}:{_count(session, household) + 1}",
    )
    session.add(event)
    session.flush()
    return Recorded(event, created=True)


def household_events(session: Session, household: Household) -> list[HouseholdEvent]:
    """The household's history, oldest first."""
    query = select(HouseholdEvent).where(HouseholdEvent.household_id == household.id)
    return list(session.scalars(query.order_by(HouseholdEvent.id)))


def _check_shape(household: Household, change: Change) -> None:
    if change.type not in (*EVENT_TYPES, ENROL):
        raise EventError(f"unknown event type {change.type!r}: one of {', '.join(EVENT_TYPES)}")
    about = change.beneficiary
    if change.type in ABOUT_BENEFICIARY and about is None:
        raise EventError(f"{change.type} needs a beneficiary's number")
    if about is not None and about.household_id != household.id:
        raise EventError(f"{about.number} is not in household {household.number}")


def _beneficiary_id(change: Change, payload: dict[str, Any]) -> int | None:
    if change.beneficiary is not None:
        return change.beneficiary.id
    found = payload.get("beneficiary_id")
    return int(found) if found is not None else None


def _digest(household: Household, change: Change) -> str:
    about = change.beneficiary.id if change.beneficiary is not None else None
    content = [household.id, about, change.type, change.on.isoformat(), change.data]
    text = json.dumps(content, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _latest(session: Session, household: Household) -> HouseholdEvent | None:
    query = select(HouseholdEvent).where(HouseholdEvent.household_id == household.id)
    return session.scalars(query.order_by(HouseholdEvent.id.desc()).limit(1)).one_or_none()


def _count(session: Session, household: Household) -> int:
    query = select(func.count()).where(HouseholdEvent.household_id == household.id)
    return int(session.scalar(query) or 0)
