"""Recording a household event (D23) from the console's form and from the JSON API (issue 18):
the fields of `gateway members event` read from a form or a JSON body, each checked with a
message saying what is wrong; then `record_event` (D3-D7 at once) and ONE `operator_actions`
row in the same transaction (D27)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from gateway.models import Beneficiary, Household
from gateway.services.members import ABOUT_BENEFICIARY, EVENT_TYPES, Change, Recorded, record_event
from gateway.services.operators import Actor, Where, record_action

ACTION = "household.event"
# The data of each type, as `gateway members event` names its options.
DATA_FIELDS = (
    "name",
    "sex",
    "birth_date",
    "relationship",
    "number",
    "head",
    "former_relation",
    "category",
    "certificate",
    "product",
)
FIELDS = ("type", "on", "reason", "member", *DATA_FIELDS)


class Invalid(ValueError):
    """Bad fields: field name -> what is wrong with it."""

    def __init__(self, fields: dict[str, str]) -> None:
        self.fields = fields
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))


def change_from(household: Household, body: Mapping[str, Any], by: str, today: dt.date) -> Change:
    """The change the body asks for, or `Invalid` naming every bad field."""
    errors: dict[str, str] = {}
    for key, value in body.items():
        if key not in FIELDS:
            errors[key] = "unknown field"
        elif value is not None and not isinstance(value, str):
            errors[key] = "a string"
    kind = _text(body.get("type"))
    if kind not in EVENT_TYPES:
        errors.setdefault("type", f"one of {', '.join(EVENT_TYPES)}")
    on = today
    if _text(body.get("on")):
        try:
            on = dt.date.fromisoformat(_text(body.get("on")))
        except ValueError:
            errors.setdefault("on", "a date YYYY-MM-DD")
    reason = _text(body.get("reason"))
    if not reason:
        errors.setdefault("reason", "required (D23: why, kept with the event)")
    member = _member(household, kind, _text(body.get("member")), errors)
    if errors:
        raise Invalid(errors)
    data: dict[str, Any] = {k: _text(body.get(k)) for k in DATA_FIELDS if _text(body.get(k))}
    if "name" in data and kind == "correct":
        data["full_name"] = data.pop("name")
    return Change(kind, on, reason, by, member, data)


def _member(
    household: Household, kind: str, number: str, errors: dict[str, str]
) -> Beneficiary | None:
    if kind not in ABOUT_BENEFICIARY:
        return None
    if not number:
        errors.setdefault("member", f"{kind} needs the beneficiary's number")
        return None
    found = next((b for b in household.beneficiaries if b.number == number), None)
    if found is None:
        errors.setdefault("member", f"{number!r} is not a member of household {household.number}")
    return found


def record(
    session: Session, household: Household, change: Change, actor: Actor, now: dt.datetime
) -> Recorded:
    """The event (raises `EventError` if the register refuses it) and its audit row."""
    recorded = record_event(session, household, change, now=now)
    event = recorded.event
    record_action(
        session,
        actor,
        ACTION,
        ("household", household.id),
        now=now,
        where=Where(mutual_id=household.mutual_id, section_id=household.section_id),
        after={"event_id": event.id, "type": event.type, "on": event.effective_on.isoformat()},
        reason=change.reason,
    )
    return recorded


def described(household: Household, recorded: Recorded) -> dict[str, Any]:
    """The event as the API answers it (and `gateway members event --json`)."""
    event = recorded.event
    numbers = {b.id: b.number for b in household.beneficiaries}
    return {
        "id": event.id,
        "household": household.number,
        "beneficiary": numbers.get(event.beneficiary_id) if event.beneficiary_id else None,
        "type": event.type,
        "effective_on": event.effective_on.isoformat(),
        "created": recorded.created,
        "payload": {k: v for k, v in event.payload.items() if k != "digest"},
    }


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""
