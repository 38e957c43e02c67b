"""Remittances on USSD (D21): collector option 4 declares cash handed to the mutual; a
supervisor's option 4 offers 1 declare / 2 confirm a colleague's remittance (never their own).
Both recording actions pass the step's key, so a replayed hop records nothing twice."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from gateway.menus import samples as S
from gateway.menus.agent_cash import (
    BIG,
    CANCEL,
    CANCELLED,
    CONFIRM,
    ERRORS,
    agent_of,
    amount_of,
    request_key,
)
from gateway.menus.catalog import Translator
from gateway.menus.render import short_name
from gateway.menus.screens import Ctx, Item, Option, Reprompt, Screen, View
from gateway.models import Remittance
from gateway.services.cash import CashError, cash_position
from gateway.services.remittances import confirm_remittance, declare_remittance, pending_for

ALREADY = "agent_pending_already"

SCREENS = (
    Screen(
        "agent_remit_choice",
        "menu",
        "remit_choice",
        options=(
            Option("1", "opt_remit_declare", "agent_remit"),
            Option("2", "opt_remit_confirm", "agent_pending"),
        ),
    ),
    Screen(
        "agent_remit",
        "input",
        "remit_amount",
        view="remit_available",
        validator="cash_amount",
        action="remit_amount",
        next="agent_remit_confirm",
    ),
    Screen(
        "agent_remit_confirm",
        "menu",
        "remit_confirm",
        options=(
            Option(CONFIRM, "opt_cash_confirm", "agent_remitted"),
            Option(CANCEL, "opt_cash_cancel", CANCELLED),
        ),
        view="remit_confirm",
        action="record_remittance",
    ),
    Screen("agent_remitted", "end", "cash_remitted", view="remitted"),
    Screen(
        "agent_pending",
        "menu",
        "pending_list",
        view="pending",
        action="choose_pending",
        next="agent_pending_confirm",
    ),
    Screen(
        "agent_pending_confirm",
        "menu",
        "pending_confirm",
        options=(
            Option(CONFIRM, "opt_cash_confirm", "agent_pending_done"),
            Option(CANCEL, "opt_cash_cancel", CANCELLED),
        ),
        view="pending_one",
        action="confirm_pending",
        exits=(ALREADY,),
    ),
    Screen("agent_pending_done", "end", "pending_done", view="pending_one"),
    Screen(ALREADY, "end", "pending_already", view="pending_one"),
)


# --- declare (collectors and supervisors) -------------------------------------------------


def available_view(ctx: Ctx) -> View:
    return View({"available": ctx.t.amount(cash_position(ctx.db, agent_of(ctx)).available)})


def remit_amount(ctx: Ctx, value: str) -> str | None:
    available = cash_position(ctx.db, agent_of(ctx)).available
    ctx.data["remit"] = {"amount": amount_of(value, available, "err_cash_over")}
    return None


def record_remittance(ctx: Ctx, choice: str) -> str | None:
    """1 declares the remittance (PENDING until a supervisor confirms it); 2 records nothing."""
    if choice != CONFIRM:
        return None
    amount = int(ctx.data["remit"]["amount"])
    try:
        remittance, _ = declare_remittance(
            ctx.db,
            agent=agent_of(ctx),
            amount=amount,
            request_key=request_key(ctx),
            now=ctx.clock.now(),
        )
    except CashError as exc:
        raise Reprompt(ERRORS.get(exc.reason, "err_cash_refused")) from None
    ctx.data["remitted"] = {"id": remittance.id, "amount": remittance.amount}
    return None


def remit_confirm_view(ctx: Ctx) -> View:
    return View({"amount": ctx.t.amount(int(ctx.data["remit"]["amount"]))})


def remitted_view(ctx: Ctx) -> View:
    done = ctx.data["remitted"]
    return View({"id": done["id"], "amount": ctx.t.amount(int(done["amount"]))})


# --- confirm (supervisors) ----------------------------------------------------------------


def pending_view(ctx: Ctx) -> View:
    rows = pending_for(ctx.db, agent_of(ctx))
    items = tuple(Item(_line(ctx.t, r.id, r.agent.name, r.amount), str(r.id)) for r in rows)
    return View({"count": len(rows)}, items=items)


def _line(t: Translator, remittance_id: int, name: str, amount: int) -> str:
    return f"#{remittance_id} {short_name(name, 14)} {t.amount(amount)}"


def choose_pending(ctx: Ctx, value: str) -> str | None:
    remittance = next((r for r in pending_for(ctx.db, agent_of(ctx)) if str(r.id) == value), None)
    if remittance is None:
        raise Reprompt("err_choice")
    ctx.data["pending"] = _pending(ctx, remittance)
    return None


def _pending(ctx: Ctx, remittance: Remittance) -> dict[str, object]:
    zone = ZoneInfo(remittance.agent.mutual.timezone)
    confirmer = remittance.confirmed_by
    return {
        "id": remittance.id,
        "agent": short_name(remittance.agent.name),
        "amount": remittance.amount,
        "date": ctx.t.date(remittance.declared_at.astimezone(zone).date()),
        "by": short_name(confirmer.name) if confirmer else "",
    }


def confirm_pending(ctx: Ctx, choice: str) -> str | None:
    """1 confirms (the ledger moves the cash to the bank once); a remittance confirmed
    meanwhile by another supervisor says so instead."""
    if choice != CONFIRM:
        return None
    try:
        done = confirm_remittance(
            ctx.db,
            remittance_id=int(ctx.data["pending"]["id"]),
            supervisor=agent_of(ctx),
            now=ctx.clock.now(),
        )
    except CashError as exc:
        raise Reprompt(ERRORS.get(exc.reason, "err_cash_refused")) from None
    ctx.data["pending"] = _pending(ctx, done.remittance)
    return None if done.created else ALREADY


def pending_one_view(ctx: Ctx) -> View:
    shown = dict(ctx.data["pending"])
    return View({**shown, "amount": ctx.t.amount(int(shown["amount"]))})


def _pending_sample(t: Translator) -> View:
    name = short_name(S.LONG_NAME)
    params = {"id": 99_999_999, "agent": name, "amount": t.amount(BIG), "by": name}
    return View({**params, "date": t.date(S.LONG_DATE)})


def _pending_list_sample(t: Translator) -> list[View]:
    items = tuple(Item(_line(t, 99_999_999, S.LONG_NAME, BIG), str(n)) for n in range(1, 12))
    return [View({"count": 20}, items=items), View({"count": 0})]


ACTIONS = {
    "remit_amount": remit_amount,
    "record_remittance": record_remittance,
    "choose_pending": choose_pending,
    "confirm_pending": confirm_pending,
}
VIEWS = {
    "remit_available": available_view,
    "remit_confirm": remit_confirm_view,
    "remitted": remitted_view,
    "pending": pending_view,
    "pending_one": pending_one_view,
}
SAMPLES = {
    "remit_available": lambda t: [View({"available": t.amount(BIG)})],
    "remit_confirm": lambda t: [View({"amount": t.amount(BIG)})],
    "remitted": lambda t: [View({"id": 99_999_999, "amount": t.amount(BIG)})],
    "pending": _pending_list_sample,
    "pending_one": lambda t: [_pending_sample(t)],
}
