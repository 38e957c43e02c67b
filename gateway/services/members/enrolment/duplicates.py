"""Possible duplicates of a field enrolment (D24): the same phone, or the same name and year
of birth in the section, as an existing member or another pending enrolment. Nothing is
refused: the enrolment is flagged with what it matches, and a manager decides."""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import (
    Beneficiary,
    Enrolment,
    EnrolmentDependant,
    EnrolmentStatus,
    Household,
    HouseholdPhone,
)


def same_name(a: str, b: str) -> bool:
    """Names compared without case, accents or extra spaces (Sawadogo = SAWADOGO)."""
    return _plain(a) == _plain(b)


def _plain(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name)
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(letters.casefold().split())


def people_of(enrolment: Enrolment) -> list[tuple[str, int | None]]:
    """(name, year of birth) of the head and each dependant."""
    head = [(enrolment.head_name or "", enrolment.head_year)]
    return head + [(d.full_name, d.birth_year) for d in enrolment.dependants]


def find_duplicates(session: Session, enrolment: Enrolment) -> list[dict[str, Any]]:
    """What the enrolment may repeat: `{"kind": "household"|"enrolment", "ref", "why":
    "phone"|"name", "name"?}` rows, members first."""
    found = _phone_matches(session, enrolment)
    for name, year in people_of(enrolment):
        if year is None:
            continue
        found += _member_matches(session, enrolment, name, year)
        found += _pending_matches(session, enrolment, name, year)
    unique = {(f["kind"], f["ref"], f["why"], f.get("name")): f for f in found}
    return list(unique.values())


def _phone_matches(session: Session, enrolment: Enrolment) -> list[dict[str, Any]]:
    if not enrolment.head_phone:
        return []
    members = (
        select(Household.number)
        .join(HouseholdPhone)
        .where(
            Household.mutual_id == enrolment.mutual_id,
            HouseholdPhone.msisdn == enrolment.head_phone,
        )
    )
    found = [{"kind": "household", "ref": n, "why": "phone"} for n in session.scalars(members)]
    pending = select(Enrolment.id).where(
        Enrolment.mutual_id == enrolment.mutual_id,
        Enrolment.status == EnrolmentStatus.PENDING,
        Enrolment.head_phone == enrolment.head_phone,
        Enrolment.id != enrolment.id,
    )
    found += [
        {"kind": "enrolment", "ref": str(i), "why": "phone"} for i in session.scalars(pending)
    ]
    return found


def _member_matches(
    session: Session, enrolment: Enrolment, name: str, year: int
) -> list[dict[str, Any]]:
    query = (
        select(Beneficiary.number, Beneficiary.full_name)
        .join(Household, Household.id == Beneficiary.household_id)
        .where(
            Beneficiary.mutual_id == enrolment.mutual_id,
            Beneficiary.birth_date.between(dt.date(year, 1, 1), dt.date(year, 12, 31)),
            _same_section(Household.section_id, enrolment.section_id),
        )
    )
    return [
        {"kind": "household", "ref": number, "why": "name", "name": full}
        for number, full in session.execute(query)
        if same_name(full, name)
    ]


def _pending_matches(
    session: Session, enrolment: Enrolment, name: str, year: int
) -> list[dict[str, Any]]:
    others = (
        Enrolment.mutual_id == enrolment.mutual_id,
        Enrolment.status == EnrolmentStatus.PENDING,
        Enrolment.id != enrolment.id,
        _same_section(Enrolment.section_id, enrolment.section_id),
    )
    heads = select(Enrolment.id, Enrolment.head_name).where(*others, Enrolment.head_year == year)
    dependants = (
        select(Enrolment.id, EnrolmentDependant.full_name)
        .join(EnrolmentDependant)
        .where(*others, EnrolmentDependant.birth_year == year)
    )
    rows = list(session.execute(heads)) + list(session.execute(dependants))
    return [
        {"kind": "enrolment", "ref": str(i), "why": "name", "name": full}
        for i, full in rows
        if full and same_name(full, name)
    ]


def _same_section(column: Any, section_id: int | None) -> Any:
    return column.is_(None) if section_id is None else column == section_id
