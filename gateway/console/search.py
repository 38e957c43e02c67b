"""Finding a member (console.md, issue 16): one box for a household number, a member number,
a name (case-insensitive prefix, on the lower(full_name) index of 0023), a phone (E.164 or
the local form, read with each mutual's country in the scope) or a receipt code. Every query
is restricted to the operator's scope through the household, and bounded."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Select, func, select
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


def search(session: Session, scope: Scope, text: str) -> list[Found]:
    """Households matching `text` inside `scope`, at most LIMIT, by household number."""
    q = text.strip()
    if not q:
        return []
    matches: dict[int, tuple[Household, str]] = {}
    for matched, query in _queries(session, scope, q):
        for household in session.scalars(scoped(query, Household, scope).limit(LIMIT)):
            matches.setdefault(household.id, (household, matched))
    ordered = sorted(matches.values(), key=lambda pair: (pair[0].number, pair[0].id))[:LIMIT]
    return _described(session, ordered)


def _queries(session: Session, scope: Scope, q: str) -> Iterable[tuple[str, Select[Household]]]:
    digits = digits_of(q)
    base = select(Household)
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


def _described(session: Session, pairs: list[tuple[Household, str]]) -> list[Found]:
    ids = [household.id for household, _ in pairs]
    if not ids:
        return []
    head = select(Beneficiary.household_id, Beneficiary.full_name).where(
        Beneficiary.household_id.in_(ids), Beneficiary.relation == "head"
    )
    heads: dict[int, str] = {household_id: name for household_id, name in session.execute(head)}
    mutual_ids = {household.mutual_id for household, _ in pairs}
    code = select(Mutual.id, Mutual.code).where(Mutual.id.in_(mutual_ids))
    codes: dict[int, str] = {mutual_id: c for mutual_id, c in session.execute(code)}
    return [
        Found(household, codes[household.mutual_id], heads.get(household.id, ""), matched)
        for household, matched in pairs
    ]
