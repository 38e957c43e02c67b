"""Checking a beneficiary number typed on a keypad (ussd.md, D13), for facility staff,
collectors and visitors. Numbers match by their digits (lookup.find_number); a number shared
by several records sends the person to the mutual instead of guessing."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any, cast

from gateway.lib import checkdigit
from gateway.lib.phones import digits_of
from gateway.menus.engine.screens import Ctx, Reprompt, View
from gateway.menus.journeys.memory import Memory, VerifyMemory
from gateway.menus.journeys.status import contact_view, verify_view
from gateway.models import Mutual
from gateway.services.agents import record_check
from gateway.services.coverage import (
    AmbiguousNumber,
    Status,
    beneficiary_status,
    find_number,
    read_book,
)

AMBIGUOUS = "ambiguous"


def check_number(ctx: Ctx[VerifyMemory], number: str) -> str | None:
    """Look the number up in the caller's mutual and keep what the result screen shows in
    the session (so the result view needs no query); `ambiguous` when it is not unique."""
    refuse_typo(number)
    mutual_id = ctx.data.get("mutual_id")
    try:
        found = find_number(ctx.db, number, int(mutual_id) if mutual_id else None)
    except AmbiguousNumber:
        return AMBIGUOUS
    if found is None:
        _record(ctx, number, None, Status.UNKNOWN)
        raise Reprompt("err_unknown")
    if found.beneficiary is None:
        raise Reprompt("err_household_number")
    beneficiary = found.beneficiary
    book = read_book(ctx.db, found.household, ctx.today)
    status = beneficiary_status(book, beneficiary, ctx.today)
    _record(ctx, number, beneficiary.id, status.status)
    ctx.data["checked"] = {
        "number": beneficiary.number,
        "name": beneficiary.full_name,
        "sex": beneficiary.sex,
        "year": beneficiary.birth_date.year if beneficiary.birth_date else None,
        "status": status.status.value,
        "until": status.until.isoformat() if status.until else None,
        "since": status.from_.isoformat() if status.from_ else None,
        "copay": dict(book.product.copay or {}),
    }
    return None


def refuse_typo(number: str) -> None:
    """D24: a number in the generated shape whose check digit is wrong is a typo, refused
    before any lookup; imported numbers (any other shape) are looked up as typed."""
    if checkdigit.typo(digits_of(number)):
        raise Reprompt("err_check_digit")


def _record(
    ctx: Ctx[VerifyMemory], number: str, beneficiary_id: int | None, status: Status
) -> None:
    """D26: an agent's check is recorded once per USSD step (a replayed hop adds nothing)."""
    agent_id = cast("dict[str, Any]", ctx.data).get("agent_id")
    if agent_id is None:
        return  # a visitor's check is not a facility check
    record_check(
        ctx.db,
        agent_id=int(agent_id),
        card_number=number,
        beneficiary_id=beneficiary_id,
        status=status.value,
        now=ctx.clock.now(),
        key="check:"
        + hashlib.sha256((ctx.key or f"{ctx.session}:{number}").encode()).hexdigest()[:48],
    )


def checked_view(ctx: Ctx[VerifyMemory]) -> View:
    """D13 from what check_number kept."""
    c = ctx.data["checked"]
    return verify_view(
        ctx.t,
        c["name"],
        c["sex"],
        c["year"],
        Status(c["status"]),
        day_of(c["until"]),
        day_of(c["since"]),
        c["copay"],
    )


def contact(ctx: Ctx[Memory]) -> View:
    """The mutual's name and contact, for help and for ambiguous numbers."""
    mutual_id = ctx.data.get("mutual_id")
    mutual = ctx.db.get(Mutual, int(mutual_id)) if mutual_id else None
    if mutual is None:
        return contact_view(ctx.t, "", None)
    return contact_view(ctx.t, mutual.name, mutual.contact)


def day_of(iso: str | None) -> dt.date | None:
    """Dates are kept as ISO strings in the session (JSON)."""
    return dt.date.fromisoformat(iso) if iso else None
