"""Finding a member (console.md, issue 16): one box for a household number, a member number,
a name (case-insensitive prefix, on the lower(full_name) index of 0023), a phone (E.164 or
the local form, read with each mutual's country in the scope) or a receipt code. Every query
is restricted to the operator's scope through the household, and bounded."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, literal, select, union_all
from sqlalchemy.orm import Session

from gateway.console.scope import Scope, scoped
from gateway.lib.phones import InvalidPhone, digits_of, normalize_msisdn
from gateway.models import Beneficiary, CashCollection, Household, HouseholdPhone, Mutual

LIMIT = 50  # results shown; a name prefix can match many people
MIN_NAME = 2  # characters before a name prefix is searched


@dataclass(frozen=True)
class Found:
    """A household found, with the mutual's code (household numbers are per mutual), the
    head's name and what matched."""

    household: Household
    mutual_code: str
    head: str
    matched: str  # household, member, name, phone, receipt


KEYS = ("household", "member", "phone", "receipt", "name")  # what matched, in this order


def search(session: Session, scope: Scope, text: str) -> list[Found]:
    """Households matching `text` inside `scope`, at most LIMIT, by household number.

    One statement (after the scope's countries for a number that may be a phone): each key's
    households, scoped and LIMITed on its own index, gathered by UNION ALL; each household
    once, under the first key that found it, with its mutual's code and its head's name,
    ordered by number. A request costs a few round trips whatever the keys (it was one query
    per key, then the heads and the codes: 7 for a phone)."""
    q = text.strip()
    if not q:
        return []
    keyed = [
        select(found.c.id, found.c.key)
        for found in (
            scoped(query.add_columns(literal(KEYS.index(matched)).label("key")), Household, scope)
            .limit(LIMIT)
            .subquery()
            for matched, query in _queries(session, scope, q)
        )
    ]
    gathered = union_all(*keyed).subquery("gathered")
    first = (
        select(gathered.c.id, func.min(gathered.c.key).label("key"))
        .group_by(gathered.c.id)
        .subquery("first")
    )
    head = (
        select(Beneficiary.full_name)
        .where(Beneficiary.household_id == Household.id, Beneficiary.relation == "head")
        .order_by(Beneficiary.id)
        .limit(1)
        .scalar_subquery()
    )
    query = (
        select(Household, first.c.key, Mutual.code, head)
        .join(first, first.c.id == Household.id)
        .join(Mutual, Mutual.id == Household.mutual_id)
        .order_by(Household.number, Household.id)
        .limit(LIMIT)
    )
    return [
        Found(household, code, name or "", KEYS[key])
        for household, key, code, name in session.execute(query)
    ]


def _queries(session: Session, scope: Scope, q: str) -> Iterable[tuple[str, Select[Any]]]:
    """Each key's households (their ids), as `q` reads for it."""
    digits = digits_of(q)
    base = select(Household.id)
    if digits:
        yield "household", base.where(Household.digits == digits)
        member = select(Beneficiary.household_id).where(Beneficiary.digits == digits)
        yield "member", base.where(Household.id.in_(member))
        phones = _phones(session, scope, q)
        if phones:
            linked = select(HouseholdPhone.household_id).where(HouseholdPhone.msisdn.in_(phones))
            yield "phone", base.where(Household.id.in_(linked))
    receipt = select(CashCollection.household_id).where(CashCollection.receipt_code == q.upper())
    yield "receipt", base.where(Household.id.in_(receipt))
    if len(q) >= MIN_NAME and not q.isdigit():
        prefix = _escape(q.lower()) + "%"
        named = select(Beneficiary.household_id).where(
            func.lower(Beneficiary.full_name).like(prefix, escape="\\")
        )
        yield "name", base.where(Household.id.in_(named))


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _phones(session: Session, scope: Scope, q: str) -> set[str]:
    """`q` read as a phone with the country of each mutual in the scope (a few countries)."""
    countries = select(Mutual.country).distinct()
    found = set()
    for country in session.scalars(scoped(countries, Mutual, scope)):
        try:
            found.add(normalize_msisdn(q, country))
        except InvalidPhone:
            continue
    return found
