"""The `enrol` event (D23, D24): a new household's members join at once, the head first, with
the numbers generated for them; their shares are due from the effective date and bought from
any credit at once (D7). Recorded by an approved field enrolment (services.members.enrolment)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.lib.phones import digits_of
from gateway.models import Beneficiary, Household
from gateway.models.beneficiary import RELATIONSHIPS
from gateway.services.coverage import allocate
from gateway.services.members.events.change import Change, EventError

ENROL = "enrol"


def enrol_members(
    session: Session, household: Household, change: Change, now: dt.datetime
) -> dict[str, Any]:
    """`change.data["members"]`: [{number, name, sex, birth_date, relationship}], the head
    first; a household that already has members is refused (that is add-dependant)."""
    members = change.data.get("members") or []
    if not members or members[0].get("relationship") != "head":
        raise EventError("enrol needs its members, the head first")
    if session.scalar(select(Beneficiary.id).where(Beneficiary.household_id == household.id)):
        raise EventError(f"household {household.number} already has members")
    rows = [_member(session, household, change.on, m) for m in members]
    session.add_all(rows)
    session.flush()
    session.expire(household)
    allocate(session, household, on=now.date())
    return {
        "members": [b.number for b in rows],
        "beneficiary_id": rows[0].id,
        **{k: v for k, v in change.data.items() if k != "members"},
    }


def _member(
    session: Session, household: Household, on: dt.date, data: dict[str, Any]
) -> Beneficiary:
    number, name = str(data.get("number") or ""), str(data.get("name") or "").strip()
    relation = str(data.get("relationship") or "")
    if not number or not name or relation not in RELATIONSHIPS:
        raise EventError(f"member {data!r}: number, name and relationship are required")
    taken = select(Beneficiary.id).where(
        Beneficiary.mutual_id == household.mutual_id, Beneficiary.number == number
    )
    if session.scalar(taken) is not None:
        raise EventError(f"member number {number} is already used")
    sex = str(data.get("sex") or "")
    if sex not in ("M", "F"):
        raise EventError(f"sex {sex!r}: M or F")
    birth = data.get("birth_date")
    return Beneficiary(
        mutual_id=household.mutual_id,
        household_id=household.id,
        number=number,
        digits=digits_of(number),
        full_name=name[:200],
        sex=sex,
        birth_date=dt.date.fromisoformat(birth) if birth else None,
        relation=relation,
        status="active",
        enrolled_on=on,
    )
