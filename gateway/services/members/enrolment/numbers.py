"""Household and member numbers for approved enrolments (D24): generated per mutual, each
with a Damm check digit (gateway.lib.checkdigit), so that a mistyped digit on USSD is caught
before any lookup. A serial whose number the mutual already uses (an imported household) is
skipped: existing numbers stay as they are."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.lib import checkdigit
from gateway.models import Beneficiary, Household, NumberSequence


def next_household_number(session: Session, mutual_id: int) -> str:
    """The mutual's next free generated household number; the serial row is locked (FOR
    UPDATE) until the caller's transaction ends, so concurrent approvals wait in line."""
    sequence = _sequence(session, mutual_id)
    while True:
        sequence.last_serial += 1
        number = checkdigit.household_number(sequence.last_serial)
        if not _taken(session, mutual_id, number):
            session.flush()
            return number


def member_numbers(household: str, count: int) -> list[str]:
    """The numbers of a new household's `count` members, the head first (rank 1)."""
    return [checkdigit.member_number(household, rank) for rank in range(1, count + 1)]


def _sequence(session: Session, mutual_id: int) -> NumberSequence:
    query = select(NumberSequence).where(NumberSequence.mutual_id == mutual_id)
    found = session.scalars(query.with_for_update()).one_or_none()
    if found is not None:
        return found
    try:
        with session.begin_nested():
            session.add(NumberSequence(mutual_id=mutual_id, last_serial=0))
    except IntegrityError:  # a concurrent first approval created it
        pass
    return session.scalars(query.with_for_update()).one()


def _taken(session: Session, mutual_id: int, number: str) -> bool:
    """The number, or a member number it starts, already used in the mutual (by digits too)."""
    households = select(Household.id).where(
        Household.mutual_id == mutual_id,
        or_(Household.number == number, Household.digits == number),
    )
    members = select(Beneficiary.id).where(
        Beneficiary.mutual_id == mutual_id, Beneficiary.digits.startswith(number)
    )
    return (
        session.scalar(households.limit(1)) is not None
        or session.scalar(members.limit(1)) is not None
    )
