"""Remittances on USSD (D21): collector option 4 declares cash handed to the mutual (amount,
then deposit or transfer); a supervisor's option 4 offers 1 declare / 2 decide on a
colleague's remittance (never their own): confirm it, or reject it with a reason (money not
received, different amount). Recording actions pass the step's key, so a replayed hop records
nothing twice."""

from __future__ import annotations

from collections.abc import Callable

from gateway.clock import zone
from gateway.menus.engine.catalog import Translator
from gateway.menus.engine.render import short_name
from gateway.menus.engine.screens import Ctx, Item, Option, Reprompt, Screen, View
from gateway.menus.journeys import samples
from gateway.menus.journeys.agent_cash import (
    BIG,
    CANCEL,
    CANCELLED,
    CONFIRM,
    ERRORS,
    agent_of,
    amount_of,
    request_key,
)
from gateway.menus.journeys.memory import PendingShown, RemitMemory
from gateway.models import Remittance, RemittanceStatus
from gateway.services.agents import (
    CashError,
    Decision,
    cash_position,
    confirm_remittance,
    declare_remittance,
    pending_for,
    reject_remittance,
)

ALREADY = "agent_pending_already"
ALREADY_REJECTED = "agent_pending_already_rejected"
METHODS = {"1": "deposit", "2": "transfer"}
REJECT, DROP = "2", "3"  # on a pending remittance: 1 confirm, 2 reject, 3 cancel
REASONS = {"1": "money not received", "2": "different amount"}  # kept as the rejection's note

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
        next="agent_remit_method",
    ),
    Screen(
        "agent_remit_method",
        "menu",
        "remit_method",
        options=(
            Option("1", "opt_method_deposit", "agent_remit_confirm"),
            Option("2", "opt_method_transfer", "agent_remit_confirm"),
        ),
        view="remit_confirm",
        action="remit_method",
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
            Option(REJECT, "opt_pending_reject", "agent_pending_reason"),
            Option(DROP, "opt_cash_cancel", CANCELLED),
        ),
        view="pending_one",
        action="confirm_pending",
        exits=(ALREADY, ALREADY_REJECTED),
    ),
    Screen(
        "agent_pending_reason",
        "menu",
        "pending_reason",
        options=(
            Option("1", "opt_reason_missing", "agent_pending_rejected"),
            Option("2", "opt_reason_amount", "agent_pending_rejected"),
        ),
        view="pending_one",
        action="reject_pending",
        exits=(ALREADY, ALREADY_REJECTED),
    ),
    Screen("agent_pending_done", "end", "pending_done", view="pending_one"),
    Screen("agent_pending_rejected", "end", "pending_rejected", view="pending_one"),
    Screen(ALREADY, "end", "pending_already", view="pending_one"),
    Screen(ALREADY_REJECTED, "end", "pending_already_rejected", view="pending_one"),
)


# --- declare (collectors and supervisors) -------------------------------------------------


def available_view(ctx: Ctx[RemitMemory]) -> View:
    return View({"available": ctx.t.amount(cash_position(ctx.db, agent_of(ctx)).available)})


def remit_amount(ctx: Ctx[RemitMemory], value: str) -> str | None:
    available = cash_position(ctx.db, agent_of(ctx)).available
    ctx.data["remit"] = {"amount": amount_of(value, available, "err_cash_over")}
    return None


def remit_method(ctx: Ctx[RemitMemory], choice: str) -> str | None:
    ctx.data["remit"]["method"] = METHODS[choice]
    return None


def record_remittance(ctx: Ctx[RemitMemory], choice: str) -> str | None:
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
            method=str(ctx.data["remit"].get("method", "deposit")),
        )
    except CashError as exc:
        raise Reprompt(ERRORS.get(exc.reason, "err_cash_refused")) from None
    ctx.data["remitted"] = {"id": remittance.id, "amount": remittance.amount}
    return None


def remit_confirm_view(ctx: Ctx[RemitMemory]) -> View:
    remit = ctx.data["remit"]
    method = ctx.t(f"method_{remit['method']}") if "method" in remit else ""
    return View({"amount": ctx.t.amount(int(remit["amount"])), "method": method})


def remitted_view(ctx: Ctx[RemitMemory]) -> View:
    done = ctx.data["remitted"]
    return View({"id": done["id"], "amount": ctx.t.amount(int(done["amount"]))})


# --- confirm (supervisors) ----------------------------------------------------------------


def pending_view(ctx: Ctx[RemitMemory]) -> View:
    rows = pending_for(ctx.db, agent_of(ctx))
    items = tuple(Item(_line(ctx.t, r.id, r.agent.name, r.amount), str(r.id)) for r in rows)
    return View({"count": len(rows)}, items=items)


def _line(t: Translator, remittance_id: int, name: str, amount: int) -> str:
    return f"#{remittance_id} {short_name(name, 14)} {t.amount(amount)}"


def choose_pending(ctx: Ctx[RemitMemory], value: str) -> str | None:
    remittance = next((r for r in pending_for(ctx.db, agent_of(ctx)) if str(r.id) == value), None)
    if remittance is None:
        raise Reprompt("err_choice")
    ctx.data["pending"] = _pending(ctx, remittance)
    return None


def _pending(ctx: Ctx[RemitMemory], remittance: Remittance) -> PendingShown:
    local = zone(remittance.agent.mutual.timezone)
    decider = remittance.confirmed_by or remittance.rejected_by
    return {
        "id": remittance.id,
        "agent": short_name(remittance.agent.name),
        "amount": remittance.amount,
        "method": remittance.method,
        "date": ctx.t.date(remittance.declared_at.astimezone(local).date()),
        "by": short_name(decider.name) if decider else "",
    }


def confirm_pending(ctx: Ctx[RemitMemory], choice: str) -> str | None:
    """1 confirms (the ledger moves the cash to the bank once), 2 asks why it is rejected;
    a remittance decided meanwhile by another supervisor says so instead."""
    if choice != CONFIRM:
        return None
    return _decide(ctx, confirm_remittance)


def reject_pending(ctx: Ctx[RemitMemory], choice: str) -> str | None:
    """The reason chosen rejects the remittance: nothing is posted, the cash stays the
    agent's (who may declare it again)."""
    return _decide(ctx, reject_remittance, reason=REASONS[choice])


def _decide(ctx: Ctx[RemitMemory], decide: Callable[..., Decision], **extra: str) -> str | None:
    remittance_id = int(ctx.data["pending"]["id"])
    try:
        done = decide(
            ctx.db,
            remittance_id=remittance_id,
            supervisor=agent_of(ctx),
            now=ctx.clock.now(),
            **extra,
        )
    except CashError as exc:
        if exc.reason not in ("confirmed", "rejected"):
            raise Reprompt(ERRORS.get(exc.reason, "err_cash_refused")) from None
        found = ctx.db.get_one(Remittance, remittance_id)
        ctx.data["pending"] = _pending(ctx, found)
        return ALREADY if found.status == RemittanceStatus.CONFIRMED else ALREADY_REJECTED
    ctx.data["pending"] = _pending(ctx, done.remittance)
    if done.created:
        return None
    return ALREADY if done.remittance.status == RemittanceStatus.CONFIRMED else ALREADY_REJECTED


def pending_one_view(ctx: Ctx[RemitMemory]) -> View:
    shown = ctx.data["pending"]
    method = ctx.t(f"method_{shown.get('method', 'deposit')}")
    return View({**shown, "amount": ctx.t.amount(int(shown["amount"])), "method": method})


def _pending_sample(t: Translator) -> View:
    name = short_name(samples.LONG_NAME)
    params = {"id": 99_999_999, "agent": name, "amount": t.amount(BIG), "by": name}
    return View({**params, "date": t.date(samples.LONG_DATE), "method": t("method_transfer")})


def _pending_list_sample(t: Translator) -> list[View]:
    items = tuple(Item(_line(t, 99_999_999, samples.LONG_NAME, BIG), str(n)) for n in range(1, 12))
    return [View({"count": 20}, items=items), View({"count": 0})]


ACTIONS = {
    "remit_amount": remit_amount,
    "remit_method": remit_method,
    "record_remittance": record_remittance,
    "choose_pending": choose_pending,
    "confirm_pending": confirm_pending,
    "reject_pending": reject_pending,
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
    "remit_confirm": lambda t: [
        View({"amount": t.amount(BIG), "method": t(f"method_{m}")}) for m in METHODS.values()
    ],
    "remitted": lambda t: [View({"id": 99_999_999, "amount": t.amount(BIG)})],
    "pending": _pending_list_sample,
    "pending_one": lambda t: [_pending_sample(t)],
}
