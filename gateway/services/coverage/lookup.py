"""Find a household or beneficiary by the number on the card, as typed or as digits only."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.lib.phones import digits_of
from gateway.models import Beneficiary, Household, Mutual


class AmbiguousNumber(LookupError):
    """Several records answer to the same number: a person must decide (ussd.md)."""


@dataclass(frozen=True)
class Found:
    kind: str  # "household" | "beneficiary"
    household: Household
    beneficiary: Beneficiary | None = None


def find_number(session: Session, number: str, mutual_id: int | None = None) -> Found | None:
    """Exact number first; otherwise the one record whose digits are exactly those given."""
    number = number.strip()
    for exact in (True, False):
        value = number if exact else digits_of(number)
        if not value:
            continue
        found = _matches(session, value, exact, mutual_id)
        if len(found) > 1:
            raise AmbiguousNumber(f"number {number} matches {len(found)} records")
        if found:
            return found[0]
    return None


def _matches(session: Session, value: str, exact: bool, mutual_id: int | None) -> list[Found]:
    h_col = Household.number if exact else Household.digits
    b_col = Beneficiary.number if exact else Beneficiary.digits
    h_query = select(Household).where(h_col == value)
    b_query = select(Beneficiary).where(b_col == value)
    if mutual_id is not None:
        h_query = h_query.where(Household.mutual_id == mutual_id)
        b_query = b_query.where(Beneficiary.mutual_id == mutual_id)
    found = [Found("household", h) for h in session.scalars(h_query)]
    found += [Found("beneficiary", b.household, b) for b in session.scalars(b_query)]
    return found


def mutual_by_code(session: Session, code: str) -> Mutual | None:
    return session.scalars(select(Mutual).where(Mutual.code == code)).one_or_none()
