"""The members import's writes: the mutual's rows read in one query per table, compared with
the checked file rows, then written as chunked ORM bulk INSERT/UPDATE statements."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from gateway.lib.phones import digits_of
from gateway.models import Beneficiary, Household, HouseholdPhone
from gateway.services.members.rows import MemberRow

BEN_FIELDS = ("full_name", "sex", "birth_date", "relation", "status", "enrolled_on", "left_on")
HOME_FIELDS = ("category", "language", "section_id", "product_id")

Links = list[tuple[str, bool]]


@dataclass
class Existing:
    """The mutual's households, beneficiaries and phone links, one query each."""

    households: dict[str, dict[str, Any]]
    beneficiaries: dict[str, dict[str, Any]]
    phones: dict[int, set[tuple[str, bool]]]
    numbers: dict[int, str]  # household id -> number

    @classmethod
    def load(cls, session: Session, mutual_id: int) -> Existing:
        h, b, p = Household, Beneficiary, HouseholdPhone
        columns = (h.id, h.number, h.digits, *(getattr(h, f) for f in HOME_FIELDS))
        rows = session.execute(select(*columns).where(h.mutual_id == mutual_id))
        households = {row.number: row._asdict() for row in rows}
        columns = (b.id, b.number, b.household_id, b.digits, *(getattr(b, f) for f in BEN_FIELDS))
        rows = session.execute(select(*columns).where(b.mutual_id == mutual_id))
        beneficiaries = {row.number: row._asdict() for row in rows}
        query = select(p.household_id, p.msisdn, p.is_primary).join(h)
        phones: dict[int, set[tuple[str, bool]]] = defaultdict(set)
        for household_id, msisdn, primary in session.execute(query.where(h.mutual_id == mutual_id)):
            phones[household_id].add((msisdn, primary))
        numbers = {row["id"]: number for number, row in households.items()}
        return cls(households, beneficiaries, phones, numbers)

    def heads(self) -> dict[str, str]:
        """Household number -> member number of its head, while still a member."""
        return {
            self.numbers[b["household_id"]]: number
            for number, b in self.beneficiaries.items()
            if b["relation"] == "head" and b["status"] in ("active", "suspended")
        }


@dataclass
class UpsertPlan:
    """What the import will write, computed first so that a dry run reports the same counts."""

    mutual_id: int
    household_ids: dict[str, int]
    today: dt.date  # the day a new or changed category takes effect (D3)
    new_households: list[dict[str, Any]] = field(default_factory=list)
    changed_households: list[dict[str, Any]] = field(default_factory=list)
    households_updated: int = 0
    households_unchanged: int = 0
    new_members: list[dict[str, Any]] = field(default_factory=list)
    changed_members: list[dict[str, Any]] = field(default_factory=list)
    members_unchanged: int = 0
    phone_resets: list[int] = field(default_factory=list)
    phone_links: dict[str, Links] = field(default_factory=dict)
    touched: set[str] = field(default_factory=set)  # households whose shares may change (D7)

    @classmethod
    def make(
        cls, rows: list[MemberRow], ex: Existing, mutual_id: int, today: dt.date
    ) -> UpsertPlan:
        ids = {number: h["id"] for number, h in ex.households.items()}
        plan = cls(mutual_id, ids, today)
        heads = {row.household: row for row in rows if row.ben["relation"] == "head"}
        links = _phone_links(rows, heads)
        for number, head in heads.items():
            plan._household(number, head, links[number], ex)
        for row in rows:
            plan._member(row, ex.beneficiaries.get(row.number))
        return plan

    def _household(self, number: str, head: MemberRow, links: Links, ex: Existing) -> None:
        values = {"number": number, "digits": digits_of(number), **head.home}
        old = ex.households.get(number)
        if old is None:
            values["category_since"] = self.today
            self.new_households.append({"mutual_id": self.mutual_id, **values})
            self.phone_links[number] = links
            self.touched.add(number)
            return
        changed = any(old[key] != values[key] for key in HOME_FIELDS)
        if changed:
            if old["category"] != values["category"]:
                values["category_since"] = self.today
            self.changed_households.append({"id": old["id"], **values})
            self.touched.add(number)
        if set(links) != ex.phones.get(old["id"], set()):
            self.phone_resets.append(old["id"])
            self.phone_links[number] = links
            changed = True
        self.households_updated += changed
        self.households_unchanged += not changed

    def _member(self, row: MemberRow, old: dict[str, Any] | None) -> None:
        values = {"number": row.number, "digits": digits_of(row.number), **row.ben}
        if old is None:
            self.new_members.append({"mutual_id": self.mutual_id, "hh": row.household, **values})
            self.touched.add(row.household)
            return
        if old["status"] == "suspended" and values["status"] == "active":
            values["status"] = "suspended"  # a suspension is the mutual's decision (D11)
        if any(old[key] != values[key] for key in BEN_FIELDS):
            self.changed_members.append({"id": old["id"], **values})
            self.touched.add(row.household)
        else:
            self.members_unchanged += 1

    def counts(self) -> dict[str, int]:
        """The report's counts, the same whether the plan is executed or not."""
        return {
            "households_created": len(self.new_households),
            "households_updated": self.households_updated,
            "households_unchanged": self.households_unchanged,
            "beneficiaries_created": len(self.new_members),
            "beneficiaries_updated": len(self.changed_members),
            "beneficiaries_unchanged": self.members_unchanged,
        }

    def execute(self, session: Session, chunk: int) -> None:
        """Write the plan, `chunk` rows a statement."""
        returning = insert(Household).returning(Household.id, Household.number)
        for rows in _chunks(self.new_households, chunk):
            self.household_ids.update((n, i) for i, n in session.execute(returning, rows))
        _bulk(session, update(Household), self.changed_households, chunk)
        for member in self.new_members:
            member["household_id"] = self.household_ids[member.pop("hh")]
        _bulk(session, insert(Beneficiary), self.new_members, chunk)
        _bulk(session, update(Beneficiary), self.changed_members, chunk)
        gone = delete(HouseholdPhone).execution_options(synchronize_session=False)
        for ids in _chunks(self.phone_resets, chunk):
            session.execute(gone.where(HouseholdPhone.household_id.in_(ids)))
        phones = [
            {"household_id": self.household_ids[number], "msisdn": msisdn, "is_primary": primary}
            for number, links in self.phone_links.items()
            for msisdn, primary in links
        ]
        _bulk(session, insert(HouseholdPhone), phones, chunk)
        for obj in list(session.identity_map.values()):
            if isinstance(obj, Household | Beneficiary | HouseholdPhone):
                session.expire(obj)  # bulk statements bypass the objects already loaded


def _phone_links(rows: list[MemberRow], heads: dict[str, MemberRow]) -> dict[str, Links]:
    """The head's phones first (the first one primary), then other members' phones."""
    links: dict[str, dict[str, bool]] = {number: {} for number in heads}
    for number, head in heads.items():
        for i, msisdn in enumerate(head.phones):
            links[number].setdefault(msisdn, i == 0)
    for row in rows:
        for msisdn in row.phones if row is not heads[row.household] else ():
            links[row.household].setdefault(msisdn, False)
    return {number: list(found.items()) for number, found in links.items()}


def _bulk(session: Session, statement: Any, rows: list[dict[str, Any]], chunk: int) -> None:
    for part in _chunks(rows, chunk):
        session.execute(statement, part)


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
