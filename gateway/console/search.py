"""Finding a member (console.md, issue 16): one box for a household number, a member number,
a name (case-insensitive prefix, on the lower(full_name) index of 0023), a phone (E.164 or
the local form, read with each mutual's country in the scope) or a receipt code. Every query
is restricted to the operator's scope through the household, and bounded."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, bindparam, func, literal, select, union_all
from sqlalchemy.orm import Session

from gateway.console.scope import Scope, scoped
from gateway.lib.phones import InvalidPhone, digits_of, normalize_msisdn
from gateway.models import Beneficiary, CashCollection, Household, HouseholdPhone, Mutual

LIMIT = 50  # results shown; a name prefix can match many people
MIN_NAME = 2  # characters before a name prefix is searched
COUNTRIES_TTL_S = 60.0
COUNTRIES_KEPT = 1024  # scopes whose countries are kept; past that the cache starts again
_COUNTRIES: dict[Scope, tuple[float, tuple[str, ...]]] = {}


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
    per key, then the heads and the codes: 7 for a phone). The statement is built once per
    scope and set of keys, the typed text bound to it (issue 16: building it cost more than
    running it)."""
    q = text.strip()
    if not q:
        return []
    values = _values(session, scope, q)
    statement = _statement(scope, tuple(key for key in KEYS if key in values))
    return [
        Found(household, code, name or "", KEYS[key])
        for household, key, code, name in session.execute(statement, values)
    ]


def _values(session: Session, scope: Scope, q: str) -> dict[str, Any]:
    """What each key searches for, as `q` reads for it; a key `q` cannot be is absent."""
    digits = digits_of(q)
    found: dict[str, Any] = {}
    if digits:
        found["household"] = found["member"] = digits
        if phones := _phones(session, scope, q):
            found["phone"] = sorted(phones)
    found["receipt"] = q.upper()
    if len(q) >= MIN_NAME and not q.isdigit():
        found["name"] = _escape(q.lower()) + "%"
    return found


@functools.lru_cache(maxsize=256)
def _statement(scope: Scope, keys: tuple[str, ...]) -> Select[Any]:
    """The search statement for these keys in `scope`, each key's value a bound parameter
    of its name."""
    keyed = [
        select(found.c.id, found.c.key)
        for found in (
            scoped(query.add_columns(literal(KEYS.index(matched)).label("key")), Household, scope)
            .limit(LIMIT)
            .subquery()
            for matched, query in _queries(keys)
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
    return (
        select(Household, first.c.key, Mutual.code, head)
        .join(first, first.c.id == Household.id)
        .join(Mutual, Mutual.id == Household.mutual_id)
        .order_by(Household.number, Household.id)
        .limit(LIMIT)
    )


def _queries(keys: tuple[str, ...]) -> Iterable[tuple[str, Select[Any]]]:
    """Each key's households (their ids), its value bound under the key's name."""
    base = select(Household.id)
    for key in keys:
        if key == "household":
            yield key, base.where(Household.digits == bindparam("household"))
        elif key == "member":
            member = select(Beneficiary.household_id).where(
                Beneficiary.digits == bindparam("member")
            )
            yield key, base.where(Household.id.in_(member))
        elif key == "phone":
            linked = select(HouseholdPhone.household_id).where(
                HouseholdPhone.msisdn.in_(bindparam("phone", expanding=True))
            )
            yield key, base.where(Household.id.in_(linked))
        elif key == "receipt":
            receipt = select(CashCollection.household_id).where(
                CashCollection.receipt_code == bindparam("receipt")
            )
            yield key, base.where(Household.id.in_(receipt))
        else:
            named = select(Beneficiary.household_id).where(
                func.lower(Beneficiary.full_name).like(bindparam("name"), escape="\\")
            )
            yield key, base.where(Household.id.in_(named))


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _phones(session: Session, scope: Scope, q: str) -> set[str]:
    """`q` read as a phone with the country of each mutual in the scope (a few countries)."""
    found = set()
    for country in _countries(session, scope):
        try:
            found.add(normalize_msisdn(q, country))
        except InvalidPhone:
            continue
    return found


def _countries(session: Session, scope: Scope) -> tuple[str, ...]:
    """The countries of the scope's mutuals, kept COUNTRIES_TTL_S seconds per scope: a
    mutual's country is set once, and a new mutual in a union is a new scope (its ids)."""
    now = time.monotonic()
    kept = _COUNTRIES.get(scope)
    if kept is not None and kept[0] > now:
        return kept[1]
    query = scoped(select(Mutual.country).distinct(), Mutual, scope)
    countries = tuple(sorted(session.scalars(query)))
    if len(_COUNTRIES) >= COUNTRIES_KEPT:
        _COUNTRIES.clear()
    _COUNTRIES[scope] = (now + COUNTRIES_TTL_S, countries)
    return countries


def forget_countries() -> None:
    """Drop the kept countries (tests: each has a database of its own)."""
    _COUNTRIES.clear()
