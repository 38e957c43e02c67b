"""Collector options 2 and 3 (ussd.md agent menu): 2 Encaisser une cotisation (D20), 3 Ma
caisse (D21); option 4 and the supervisor's confirmation live in gateway.menus.journeys.agent_remit.
Before the amount, the collector reads what the household is offered (D6b) and the period it
buys, or its headline (D12) when nothing is offered: the same words as the member's screens.
Recording actions pass the step's key (ctx.key: this session and its inputs so far) to the
services, so a duplicated or replayed hop takes the cash once."""

from __future__ import annotations

import hashlib
from dataclasses import replace

from sqlalchemy import select

from gateway.menus.engine.catalog import Translator
from gateway.menus.engine.render import full_name, short_name
from gateway.menus.engine.screens import Ctx, Option, Reprompt, Screen, StaleSession, View
from gateway.menus.journeys import samples
from gateway.menus.journeys.memory import AgentMemory, CashMemory, Memory
from gateway.menus.journeys.verify import AMBIGUOUS, refuse_typo
from gateway.models import Agent, Beneficiary, Household
from gateway.queueing import defer
from gateway.services.agents import (
    MAX_COLLECTION,
    CashError,
    cash_position,
    check_household,
    collect_cash,
    local_day,
)
from gateway.services.coverage import (
    AmbiguousNumber,
    Offer,
    OfferKind,
    Standing,
    find_number,
    headline_text,
    offer_text,
    sample_standings,
    standing_of,
)

CANCELLED = "agent_cancelled"
CONFIRM, CANCEL = "1", "2"
# CashError.reason -> the short error line of the screen that re-prompts.
ERRORS = {
    "zero": "err_cash_zero",
    "high": "err_cash_high",
    "over": "err_cash_over",
    "section": "err_other_section",
    "mutual": "err_unknown",
}

SCREENS = (
    Screen(
        "agent_collect",
        "input",
        "collect_number",
        validator="number",
        action="collect_household",
        next="agent_collect_amount",
        exits=(AMBIGUOUS,),
    ),
    Screen(
        "agent_collect_amount",
        "input",
        "collect_amount",
        view="collect_household",
        validator="cash_amount",
        action="collect_amount",
        next="agent_collect_confirm",
    ),
    Screen(
        "agent_collect_confirm",
        "menu",
        "collect_confirm",
        options=(
            Option(CONFIRM, "opt_cash_confirm", "agent_collected"),
            Option(CANCEL, "opt_cash_cancel", CANCELLED),
        ),
        view="collect_confirm",
        action="record_collection",
    ),
    Screen("agent_collected", "end", "cash_collected", view="collected"),
    Screen(CANCELLED, "end", "cash_cancelled"),
    Screen("agent_cash", "end", "cash_position", view="cash_position"),
)


def agent_of(ctx: Ctx[AgentMemory]) -> Agent:
    agent = ctx.db.get(Agent, int(ctx.data["agent_id"]))
    if agent is None:
        raise StaleSession("agent is gone")
    return agent


def request_key(ctx: Ctx[Memory]) -> str:
    """A fixed-size key of this step of this session (ctx.key is already a keyed digest)."""
    return "ussd:" + hashlib.sha256(ctx.key.encode()).hexdigest()[:48]


def amount_of(value: str, limit: int, over: str) -> int:
    amount = int(value)
    if amount <= 0:
        raise Reprompt("err_cash_zero")
    if amount > limit:
        raise Reprompt(over)
    return amount


# --- 2 Encaisser une cotisation (D20) -----------------------------------------------------


def collect_household(ctx: Ctx[CashMemory], number: str) -> str | None:
    """The household (or a beneficiary's household) of the agent's mutual and section."""
    refuse_typo(number)
    agent = agent_of(ctx)
    try:
        found = find_number(ctx.db, number, agent.mutual_id)
    except AmbiguousNumber:
        return AMBIGUOUS
    if found is None:
        raise Reprompt("err_unknown")
    household = found.household
    try:
        check_household(agent, household)
    except CashError as exc:
        raise Reprompt(ERRORS.get(exc.reason, "err_unknown")) from None
    ctx.data["collect"] = {
        "household_id": household.id,
        "household": household.number,
        "name": full_name(_head_name(ctx, household)),
    }
    return None


def _head_name(ctx: Ctx[CashMemory], household: Household) -> str:
    query = select(Beneficiary.full_name).where(
        Beneficiary.household_id == household.id, Beneficiary.relation == "head"
    )
    return ctx.db.scalars(query).first() or ""


def collect_amount(ctx: Ctx[CashMemory], value: str) -> str | None:
    ctx.data["collect"]["amount"] = amount_of(value, MAX_COLLECTION, "err_cash_high")
    return None


def record_collection(ctx: Ctx[CashMemory], choice: str) -> str | None:
    """1 records the cash (once per step key) and queues the receipt; 2 records nothing."""
    if choice != CONFIRM:
        return None
    draft = ctx.data["collect"]
    household = ctx.db.get(Household, int(draft["household_id"]))
    if household is None:
        raise StaleSession("household is gone")
    try:
        done = collect_cash(
            ctx.db,
            agent=agent_of(ctx),
            household=household,
            amount=int(draft["amount"]),
            request_key=request_key(ctx),
            now=ctx.clock.now(),
        )
    except CashError as exc:
        raise Reprompt(ERRORS.get(exc.reason, "err_cash_refused")) from None
    if done.created and done.receipt is not None:
        defer(ctx.db, "send-sms", str(done.receipt.id))
    ctx.data["collected"] = {
        "code": done.collection.receipt_code,
        "amount": done.collection.amount,
        "household": household.number,
        "sms": done.receipt is not None or done.deferred,  # deferred: sent after a ledger hold
    }
    return None


def household_view(ctx: Ctx[CashMemory]) -> View:
    """D6b on the agent's mutual's local date, read when the screen is shown (a payment
    made meanwhile shows at once)."""
    draft = ctx.data["collect"]
    agent = agent_of(ctx)
    household = ctx.db.get(Household, int(draft["household_id"]))
    if household is None:
        raise StaleSession("household is gone")
    found = standing_of(ctx.db, household, local_day(agent.mutual, ctx.clock.now()))
    return amount_view(ctx.t, draft["household"], draft["name"], found)


def amount_view(t: Translator, household: str, name: str, found: Standing) -> View:
    """`Ménage 1001`, the head's short name, then `Cotisation 2027: 12 000 FCFA` (D6b: the
    amount offered and the period it buys) or, when nothing is offered, the headline (D12:
    `À JOUR jusqu'au 31/12/2026`), before the amount is asked."""
    standing = offer_text(found.offer, t.lang) or headline_text(found, t.lang)
    return View({"household": household, "name": short_name(name), "standing": standing})


def _amount_samples(t: Translator) -> list[View]:
    """The longest offers (every headline, a two-year period, the largest amount, the fee
    included) and every headline with nothing offered."""
    offered = sample_standings()
    nothing = [replace(found, offer=Offer(OfferKind.NONE, 0)) for found in offered]
    return [
        amount_view(t, samples.LONG_HOUSEHOLD, samples.LONG_NAME, found)
        for found in offered + nothing
    ]


def confirm_view(ctx: Ctx[CashMemory]) -> View:
    draft = ctx.data["collect"]
    params = {"household": draft["household"], "name": draft["name"]}
    return View({**params, "amount": ctx.t.amount(int(draft["amount"]))})


def collected_view(ctx: Ctx[CashMemory]) -> View:
    done = ctx.data["collected"]
    return _collected(ctx.t, done["code"], int(done["amount"]), done["household"], done["sms"])


def _collected(t: Translator, code: str, amount: int, household: str, sms: bool) -> View:
    line = t("receipt_sms" if sms else "receipt_no_phone")
    return View({"code": code, "amount": t.amount(amount), "household": household, "sms": line})


# --- 3 Ma caisse --------------------------------------------------------------------------


def position_view(ctx: Ctx[CashMemory]) -> View:
    agent = agent_of(ctx)
    position = cash_position(ctx.db, agent)
    days = position.age_days(local_day(agent.mutual, ctx.clock.now()))
    return _position(
        ctx.t, position.collected, position.remitted, position.pending, position.outstanding, days
    )


def _position(
    t: Translator, collected: int, remitted: int, pending: int, outstanding: int, days: int
) -> View:
    age = t("cash_age", days=days) if outstanding > 0 else t("cash_age_none")
    params = {"collected": collected, "remitted": remitted, "pending": pending}
    shown = {key: t.amount(value) for key, value in params.items()}
    return View({**shown, "outstanding": t.amount(outstanding), "age": age})


ACTIONS = {
    "collect_household": collect_household,
    "collect_amount": collect_amount,
    "record_collection": record_collection,
}
VIEWS = {
    "collect_household": household_view,
    "collect_confirm": confirm_view,
    "collected": collected_view,
    "cash_position": position_view,
}
BIG = samples.BIG_AMOUNT * 10  # what an agent may hold over months
SAMPLES = {
    "collect_household": _amount_samples,
    "collect_confirm": lambda t: [
        View(
            {
                "household": samples.LONG_HOUSEHOLD,
                "name": samples.LONG_NAME,
                "amount": t.amount(BIG),
            }
        )
    ],
    "collected": lambda t: [
        _collected(t, "ZZZZZZ", samples.BIG_AMOUNT, samples.LONG_HOUSEHOLD, sms)
        for sms in (True, False)
    ],
    "cash_position": lambda t: [
        _position(t, BIG, BIG, BIG, BIG, 9999),
        _position(t, BIG, BIG, 0, 0, 0),
    ],
}
_DIGITS = 12  # an amount typed on a keypad; its value is checked by the actions
CHECKS = {"cash_amount": lambda v: v.isascii() and v.isdigit() and len(v) <= _DIGITS}
ERROR_KEYS = {"cash_amount": "err_cash_digits"}
