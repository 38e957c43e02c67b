"""The members import as a producer of the register's dated events (D23, issue 18): each row
that changes a registered household or beneficiary is compared with the register and becomes
the events an operator would record (`record_event`, which applies D3-D7 at once), instead of a
silent update. New households are bulk-inserted with one `enrol` event each; the fields no
event governs (language, section, phones, an enrolment date, a relationship between dependants)
are still updated in bulk.

An event the register refuses (a product change mid-period, a re-enrolment before the
departure...) is a problem of its line: the import then raises and writes nothing."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.lib.csv_rows import Problems
from gateway.models import Beneficiary, Household, Product
from gateway.services.members.events import Change, EventError, record_event
from gateway.services.members.staging import STAGE

# Within a household: the order in which one file's changes are recorded (the same order
# gives the same books as recording them one by one, issue 18 acceptance 2).
ORDER = {
    "correct": 0,
    "add-dependant": 1,
    "reenrol": 2,
    "depart": 3,
    "death": 3,
    "suspend": 4,
    "lift": 4,
    "change-head": 5,
    "category": 6,
    "product": 7,
}
COLUMN = {  # the file's column a refused event is reported on
    "correct": "full_name",
    "add-dependant": "member_number",
    "reenrol": "enrolled_on",
    "depart": "left_on",
    "death": "left_on",
    "suspend": "status",
    "lift": "status",
    "change-head": "relationship",
    "category": "category",
    "product": "product",
}
CORRECTED = ("full_name", "sex", "birth_date")
LEAVING = ("removed", "deceased")


@dataclass(frozen=True, slots=True)
class Pending:
    """An event found in a line, recorded once the chunk's bulk writes are done."""

    line: int
    household_id: int
    type: str
    on: dt.date
    beneficiary_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)


def member_events(
    line: int, household_id: int, old: Any, mine: dict[str, Any]
) -> tuple[list[Pending], dict[str, Any]]:
    """The events a registered beneficiary's line makes, and the values left to update in
    bulk (the register's own values for every field an event governs). A date of
    `dt.date.min` stands for the import's day."""
    today = dt.date.min
    events = [
        Pending(line, household_id, kind, on, old.id, data)
        for kind, on, data in _status_events(old, mine)
    ]
    fixed = {
        k: mine[k] for k in CORRECTED if mine[k] not in (None, "") and mine[k] != old._mapping[k]
    }
    if fixed:
        events.insert(0, Pending(line, household_id, "correct", today, old.id, fixed))
    plain = dict(mine)
    if "head" in (mine["relation"], old.relation) and mine["relation"] != old.relation:
        plain["relation"] = old.relation  # the change of head says who the head is
        if mine["relation"] == "head":
            events.append(Pending(line, household_id, "change-head", today))
    governed = ("status", "left_on", *fixed)
    if any(e.type == "reenrol" for e in events):
        governed += ("enrolled_on",)
    plain.update((k, old._mapping[k]) for k in governed)
    return events, plain


def _status_events(old: Any, mine: dict[str, Any]) -> list[tuple[str, dt.date, dict[str, Any]]]:
    """D23: leaving, re-enrolment, suspension and its lifting, from the status column."""
    status, was, today = mine["status"], old.status, dt.date.min
    leave = "death" if status == "deceased" else "depart"
    if status in LEAVING and was not in LEAVING:
        return [(leave, mine["left_on"], {})]
    if status in LEAVING and (status, mine["left_on"]) != (was, old.left_on):
        return [(leave, mine["left_on"], {})]  # refused by the register: already left
    if status not in LEAVING and was in LEAVING:
        back: list[tuple[str, dt.date, dict[str, Any]]] = [("reenrol", mine["enrolled_on"], {})]
        return back + ([("suspend", mine["enrolled_on"], {})] if status == "suspended" else [])
    if status == "suspended" and was == "active":
        return [("suspend", today, {})]
    if status == "active" and was == "suspended":
        return [("lift", today, {})]
    return []


def new_member_events(
    line: int, household_id: int, number: str, mine: dict[str, Any]
) -> list[Pending]:
    """A new beneficiary in a registered household: a dependant added on their enrolment
    day (D23), then their departure when the file says they left. A new member the file
    names as head joins as a dependant ('other'): the household's change-head event, recorded
    after the additions, makes them head, as an operator would record it."""
    relation = mine["relation"] if mine["relation"] != "head" else "other"
    data = {
        "number": number,
        "name": mine["full_name"],
        "sex": mine["sex"],
        "birth_date": mine["birth_date"],
        "relationship": relation,
    }
    events = [Pending(line, household_id, "add-dependant", mine["enrolled_on"], None, data)]
    if mine["relation"] == "head":
        events.append(Pending(line, household_id, "change-head", dt.date.min))
    status = mine["status"]
    if status in LEAVING:
        kind = "death" if status == "deceased" else "depart"
        events.append(Pending(line, household_id, kind, mine["left_on"], None, {"number": number}))
    elif status == "suspended":
        events.append(
            Pending(line, household_id, "suspend", mine["enrolled_on"], None, {"number": number})
        )
    return events


class EventSink:
    """Records the pending events of a chunk through `record_event`, household by household in
    `ORDER`, each with the import's reason; a refused one becomes a problem of its line."""

    def __init__(
        self, session: Session, today: dt.date, now: dt.datetime, by: str, problems: Problems
    ) -> None:
        self.session, self.today, self.now, self.by = session, today, now, by
        self.problems = problems
        self.recorded = 0

    def apply(self, pending: list[Pending]) -> None:
        for item in sorted(pending, key=lambda p: (p.household_id, ORDER[p.type], p.line)):
            try:
                self._record(item)
            except EventError as exc:
                self.problems.add(item.line, COLUMN[item.type], str(exc))

    def _record(self, item: Pending) -> None:
        household = self.session.get(Household, item.household_id)
        assert household is not None
        data = dict(item.data)
        number = data.pop("number", None) if item.type != "add-dependant" else None
        beneficiary = None
        if item.beneficiary_id is not None:
            beneficiary = self.session.get(Beneficiary, item.beneficiary_id)
        elif number is not None:
            beneficiary = self.session.scalars(
                select(Beneficiary).where(
                    Beneficiary.household_id == household.id, Beneficiary.number == number
                )
            ).one()
        if item.type == "change-head":
            data = self._head_data(household, item.line)
        on = self.today if item.on == dt.date.min else item.on
        reason = f"members import, line {item.line}"
        change = Change(item.type, on, reason, self.by, beneficiary, data)
        record_event(self.session, household, change, now=self.now)
        self.recorded += 1

    def _head_data(self, household: Household, line: int) -> dict[str, Any]:
        """The new head (this line's member) and what the file calls the old head now."""
        s = STAGE.c
        number = self.session.scalar(select(s.number).where(s.line == line))
        olds = [b.number for b in household.beneficiaries if b.relation == "head"]
        query = select(s.relation).where(s.ok, s.number.in_(olds), s.relation != "head")
        former = self.session.scalars(query.limit(1)).first()
        return {"head": number, "former_relation": former or "other"}


def product_code(session: Session, product_id: int) -> str:
    product = session.get(Product, product_id)
    assert product is not None
    return product.code
