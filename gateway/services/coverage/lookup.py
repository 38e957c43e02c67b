"""Find a household or beneficiary by the number on the card: as typed, then by its
digits for keypad input only (ussd.md).

Only keypad input (digits and separators, no letter) may
then match by its digits: `Z01-1` is another card than `H01-1`, whereas `011` typed on a phone
is either. A head whose member number is the household's own number is one person, not an
ambiguity: without a `kind`, the person answers (the members import lets only a head carry
the household's number)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.lib.phones import digits_of
from gateway.models import Beneficiary, Household, Mutual

HOUSEHOLD: Final = "household"
BENEFICIARY: Final = "beneficiary"
KINDS = (HOUSEHOLD, BENEFICIARY)
# What a keypad (or a number copied from one) holds: digits, spaces, - / . separators.
_KEYPAD = re.compile(r"[\s./-]*[0-9][0-9\s./-]*")


@dataclass(frozen=True)
class Found:
    kind: str  # "household" | "beneficiary"
    household: Household
    beneficiary: Beneficiary | None = None

    @property
    def number(self) -> str:
        return self.beneficiary.number if self.beneficiary is not None else self.household.number


class AmbiguousNumber(LookupError):
    """Several records answer to the same number: a person must decide (ussd.md)."""

    def __init__(self, number: str, found: list[Found]) -> None:
        self.number = number
        self.found = found
        several = len({f.household.mutual_id for f in found}) > 1
        names = ", ".join(_name(f, several) for f in found)
        super().__init__(f"number {number} matches {len(found)} records: {names}")

    @property
    def mutuals(self) -> int:
        return len({f.household.mutual_id for f in self.found})

    @property
    def kinds(self) -> int:
        return len({f.kind for f in self.found})


def _name(found: Found, with_mutual: bool) -> str:
    where = f" ({found.household.mutual.code})" if with_mutual else ""
    return f"{found.kind} {found.number}{where}"


def is_keypad(number: str) -> bool:
    """Digits and separators only: the input a phone keypad gives (no letter)."""
    return bool(_KEYPAD.fullmatch(number))


def find_number(
    session: Session, number: str, mutual_id: int | None = None, kind: str | None = None
) -> Found | None:
    """Exact number first; then, for keypad input only, the record whose digits are those
    typed. `kind` looks among households or beneficiaries only; without it, a household and
    its own head carrying the same number answer as the head (the person)."""
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    number = number.strip()
    stages = [(True, number)]
    if is_keypad(number):
        stages.append((False, digits_of(number)))
    for exact, value in stages:
        if not value:
            continue
        found = [f for f in _matches(session, value, exact, mutual_id) if kind in (None, f.kind)]
        if len(found) > 1:
            found = _own_head(found) or found
        if len(found) > 1:
            raise AmbiguousNumber(number, found)
        if found:
            return found[0]
    return None


def _own_head(found: list[Found]) -> list[Found] | None:
    """[the head] when the candidates are exactly one household and its own head."""
    households = [f for f in found if f.beneficiary is None]
    people = [f for f in found if f.beneficiary is not None]
    if len(households) != 1 or len(people) != 1:
        return None
    person = people[0].beneficiary
    assert person is not None
    if person.household_id != households[0].household.id or person.relation != "head":
        return None
    return people


def _matches(session: Session, value: str, exact: bool, mutual_id: int | None) -> list[Found]:
    h_col = Household.number if exact else Household.digits
    b_col = Beneficiary.number if exact else Beneficiary.digits
    h_query = select(Household).where(h_col == value).order_by(Household.id)
    b_query = select(Beneficiary).where(b_col == value).order_by(Beneficiary.id)
    if mutual_id is not None:
        h_query = h_query.where(Household.mutual_id == mutual_id)
        b_query = b_query.where(Beneficiary.mutual_id == mutual_id)
    found = [Found(HOUSEHOLD, h) for h in session.scalars(h_query)]
    found += [Found(BENEFICIARY, b.household, b) for b in session.scalars(b_query)]
    return found


def mutual_by_code(session: Session, code: str) -> Mutual | None:
    return session.scalars(select(Mutual).where(Mutual.code == code)).one_or_none()
