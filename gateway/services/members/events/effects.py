"""What each event type does to the register (D23), and its money at once (D3-D7): credit
applied, automatic periods from the effective date, shares after a departure released."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.lib.phones import digits_of
from gateway.models import Beneficiary, Household, HouseholdEvent, MembershipSpell
from gateway.models.beneficiary import RELATIONSHIPS
from gateway.services.coverage import allocate, give_back_difference, release_shares
from gateway.services.members.events.change import Change, EventError
from gateway.services.members.events.enrol import ENROL, enrol_members
from gateway.services.members.events.product import change_product, refuse_on_hold

Effect = Callable[[Session, Household, Change, dt.datetime], dict[str, Any]]
CORRECTABLE = ("full_name", "sex", "birth_date")


def apply_change(
    session: Session, household: Household, change: Change, *, now: dt.datetime
) -> dict[str, Any]:
    """Apply one event; returns what the event row keeps (old values included)."""
    if change.on > now.date() and change.type != "product":
        raise EventError(f"{change.type} on {change.on} is in the future")
    payload = EFFECTS[change.type](session, household, change, now)
    session.flush()
    return payload


def _allocate_now(session: Session, household: Household, now: dt.datetime) -> None:
    """D7: credit applied as soon as it covers shares, when a beneficiary or category changes."""
    session.flush()
    session.expire(household)
    allocate(session, household, on=now.date())


def _about(change: Change) -> Beneficiary:
    assert change.beneficiary is not None  # checked by record_event
    return change.beneficiary


def _leave(
    session: Session, household: Household, change: Change, now: dt.datetime
) -> dict[str, Any]:
    """D7, D23: a departure or death on `left_on`; shares of periods starting after it go back
    to the household's credit by reversing transactions, then the credit is applied."""
    b = _about(change)
    if b.status in ("removed", "deceased"):
        raise EventError(f"{b.number} already left on {b.left_on}")
    refuse_on_hold(session, household)
    if change.on < b.enrolled_on:
        raise EventError(f"{b.number} was enrolled on {b.enrolled_on}, after {change.on}")
    b.status = "deceased" if change.type == "death" else "removed"
    b.left_on = change.on
    session.flush()
    why = f"{change.type} of {b.number} on {change.on}"
    released = release_shares(
        session, household, after=change.on, beneficiary_id=b.id, now=now, why=why
    )
    _allocate_now(session, household, now)
    periods = sorted({a.period.starts_on.isoformat() for a in released if a.period})
    return {"left_on": change.on.isoformat(), "released_periods": periods}


def _reenrol(
    session: Session, household: Household, change: Change, now: dt.datetime
) -> dict[str, Any]:
    """D23: a new membership spell; the old one is kept (eligibility in the gap: REMOVED)."""
    b = _about(change)
    if b.status == "deceased":
        raise EventError(f"{b.number} is deceased")
    if b.status != "removed" or b.left_on is None:
        raise EventError(f"{b.number} has not left: nothing to re-enrol")
    if change.on <= b.left_on:
        raise EventError(f"{b.number} left on {b.left_on}: re-enrol after that day")
    old = MembershipSpell(
        household_id=household.id,
        beneficiary_id=b.id,
        starts_on=b.enrolled_on,
        ends_on=b.left_on,
        ended_as=b.status,
    )
    session.add(old)
    household.dated_register = True
    b.enrolled_on, b.left_on, b.status, b.status_reason = change.on, None, "active", None
    _allocate_now(session, household, now)
    return {"previous_spell": [old.starts_on.isoformat(), old.ends_on.isoformat()]}


def _add_dependant(
    session: Session, household: Household, change: Change, now: dt.datetime
) -> dict[str, Any]:
    """D23, D5: a dependant (a newborn with a birth date) joins; their share is due for the
    open period, bought at once if the household's credit covers it (D7)."""
    data = change.data
    number = str(data.get("number") or "").strip()
    name = str(data.get("name") or "").strip()
    if not number or not name:
        raise EventError("add-dependant needs the new member number and name")
    taken = select(Beneficiary.id).where(
        Beneficiary.mutual_id == household.mutual_id, Beneficiary.number == number
    )
    if session.scalar(taken) is not None:
        raise EventError(f"member number {number} is already used")
    relation = str(data.get("relationship") or "child")
    if relation not in RELATIONSHIPS or relation == "head":
        raise EventError(f"relationship {relation!r}: one of spouse, child, parent, other")
    birth = _date(data.get("birth_date"))
    if birth is not None and birth > change.on:
        raise EventError(f"born on {birth}, after the day added {change.on}")
    b = Beneficiary(
        mutual_id=household.mutual_id,
        household_id=household.id,
        number=number,
        digits=digits_of(number),
        full_name=name[:200],
        sex=_sex(data.get("sex")),
        birth_date=birth,
        relation=relation,
        status="active",
        enrolled_on=change.on,
    )
    session.add(b)
    session.flush()
    _allocate_now(session, household, now)
    return {"beneficiary_id": b.id, "number": number, "name": name, "relationship": relation}


def _change_head(
    session: Session, household: Household, change: Change, now: dt.datetime
) -> dict[str, Any]:
    """D23: another beneficiary becomes head; the old head keeps their row and history."""
    number = str(change.data.get("head") or "")
    members = {b.number: b for b in household.beneficiaries}
    new = members.get(number)
    if new is None:
        raise EventError(f"{number!r} is not a member of household {household.number}")
    if new.relation == "head":
        raise EventError(f"{number} is already the head")
    if not new.active_on(change.on):
        raise EventError(f"{number} is not an active member on {change.on}")
    former = str(change.data.get("former_relation") or "other")
    if former not in RELATIONSHIPS or former == "head":
        raise EventError(f"former head's relationship {former!r}: spouse, child, parent, other")
    olds = [b for b in household.beneficiaries if b.relation == "head"]
    for old in olds:
        old.relation = former
    previous = new.relation
    new.relation = "head"
    return {
        "head": number,
        "previous_relationship": previous,
        "former_heads": [b.number for b in olds],
        "former_relation": former,
    }


def _category(
    session: Session, household: Household, change: Change, now: dt.datetime
) -> dict[str, Any]:
    """D3: a new category from its effective date, with the funder's certificate; a 0-share
    household's automatic periods count from that date, never earlier; periods prepaid at a
    higher share give the difference back as credit (reversing entries)."""
    category = str(change.data.get("category") or "").strip()
    known = {"standard"} | {s.category for s in household.product.subsidies}
    if category not in known:
        raise EventError(f"category {category!r}: one of {', '.join(sorted(known))}")
    if category == household.category:
        raise EventError(f"household {household.number} is already {category}")
    refuse_on_hold(session, household)
    old = household.category
    household.category, household.category_since = category, change.on
    session.flush()
    why = f"category of household {household.number} to {category} on {change.on}"
    repriced = give_back_difference(session, household, since=change.on, now=now, why=why)
    _allocate_now(session, household, now)
    certificate = str(change.data.get("certificate") or "") or None
    periods = sorted({a.period.starts_on.isoformat() for a in repriced if a.period})
    return {
        "category": category,
        "previous": old,
        "certificate": certificate,
        "repriced_periods": periods,
    }


def _suspend(
    session: Session, household: Household, change: Change, now: dt.datetime
) -> dict[str, Any]:
    """D11 SUSPENDED, with its reason kept."""
    b = _about(change)
    if b.status != "active":
        raise EventError(f"{b.number} is {b.status}: only an active beneficiary is suspended")
    b.status, b.status_reason = "suspended", change.reason.strip()[:200]
    household.dated_register = True
    return {"status": "suspended"}


def _lift(
    session: Session, household: Household, change: Change, now: dt.datetime
) -> dict[str, Any]:
    """D11: lifting a suspension restores the status the payments give."""
    b = _about(change)
    if b.status != "suspended":
        raise EventError(f"{b.number} is not suspended")
    since = session.scalar(
        select(HouseholdEvent.effective_on)
        .where(HouseholdEvent.beneficiary_id == b.id, HouseholdEvent.type == "suspend")
        .order_by(HouseholdEvent.id.desc())
        .limit(1)
    )
    if since is not None and change.on < since:
        raise EventError(f"{b.number} was suspended on {since}: lift on or after that day")
    previous = b.status_reason
    b.status, b.status_reason = "active", None
    return {"status": "active", "suspension": previous}


def _correct(
    session: Session, household: Household, change: Change, now: dt.datetime
) -> dict[str, Any]:
    """D23 correction of a name, sex or birth date: no money effect; old values kept."""
    b = _about(change)
    fields = {k: v for k, v in change.data.items() if k in CORRECTABLE and v not in (None, "")}
    if not fields:
        raise EventError("correct needs --name, --sex or --birth-date")
    old: dict[str, Any] = {}
    for name, value in fields.items():
        new = {"sex": _sex, "birth_date": _date}.get(name, lambda v: str(v).strip()[:200])(value)
        old[name] = _text(getattr(b, name))
        setattr(b, name, new)
    return {"new": {k: _text(getattr(b, k)) for k in fields}, "old": old}


def _product(
    session: Session, household: Household, change: Change, now: dt.datetime
) -> dict[str, Any]:
    return change_product(session, household, change, now=now)


def _sex(value: Any) -> str:
    sex = str(value or "").strip().upper()
    if sex not in ("M", "F"):
        raise EventError(f"sex {value!r}: M or F")
    return sex


def _date(value: Any) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise EventError(f"date {value!r}: YYYY-MM-DD") from exc


def _text(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, dt.date) else value


EFFECTS: dict[str, Effect] = {
    ENROL: enrol_members,
    "add-dependant": _add_dependant,
    "depart": _leave,
    "death": _leave,
    "reenrol": _reenrol,
    "change-head": _change_head,
    "category": _category,
    "product": _product,
    "suspend": _suspend,
    "lift": _lift,
    "correct": _correct,
}
