"""Member option 2, Payer ma cotisation (ussd.md menu map; payments.md): the household's
headline and the amount offered with the period it buys (D6b: the amount due, else the renewal
when one is due), 1 pay it / 2 another amount (only when the product allows installments, D1,
or nothing is offered: money then waits as credit, D7), confirm the amount, the period and the
wallet (the caller's phone), then END. The intent is written in the hop's transaction, once
per USSD session (its origin key), and initiated by the worker after the commit. No PIN is ever
asked here: the operator's own prompt does that after the session has ended."""

from __future__ import annotations

import hashlib
import re

from gateway.menus.engine.catalog import Translator
from gateway.menus.engine.screens import Ctx, Option, Reprompt, Screen, View
from gateway.menus.journeys import samples
from gateway.menus.journeys.member_views import household_of
from gateway.menus.journeys.memory import PayMemory
from gateway.queueing import defer
from gateway.services.coverage import (
    Standing,
    headline_text,
    offer_text,
    period_label,
    sample_standings,
    standing_of,
)
from gateway.services.payments import (
    MAX_PAYMENT,
    MIN_PAYMENT,
    AmountRefused,
    create_intent,
)

AMOUNT = "amount"  # the input check of the amount screen (journeys.registry)
AMOUNT_RE = re.compile(r"[0-9]{1,12}")
SAMPLE_PHONE = "+22670123412"

SCREENS = (
    Screen(
        "member_pay",
        "menu",
        "member_pay",
        options=(
            Option("1", "opt_pay_due", "member_pay_confirm", when="due"),
            Option("2", "opt_pay_other", "member_pay_amount", when="other"),
        ),
        view="pay_due",
        action="choose_pay",
    ),
    Screen(
        "member_pay_amount",
        "input",
        "pay_ask_amount",
        validator=AMOUNT,
        action="pay_amount",
        next="member_pay_confirm",
    ),
    Screen(
        "member_pay_confirm",
        "menu",
        "pay_confirm",
        options=(
            Option("1", "opt_pay_confirm", "member_pay_sent"),
            Option("2", "opt_pay_cancel", "member_pay_cancelled"),
        ),
        view="pay_confirm",
        action="confirm_pay",
    ),
    Screen("member_pay_sent", "end", "pay_sent", view="pay_sent"),
    Screen("member_pay_cancelled", "end", "pay_cancelled"),
)


def _payable(amount: int) -> bool:
    return MIN_PAYMENT <= amount <= MAX_PAYMENT


def _standing(ctx: Ctx[PayMemory]) -> tuple[Standing, bool]:
    """D6b today, and whether the product lets the member pay another amount (D1)."""
    household = household_of(ctx)
    return standing_of(ctx.db, household, ctx.today), household.product.installments


def pay_due(ctx: Ctx[PayMemory]) -> View:
    found, installments = _standing(ctx)
    period = found.offer.period
    ctx.data["pay_period"] = period_label(period) if period is not None else ""
    return pay_due_view(ctx.t, found, installments)


def pay_due_view(t: Translator, found: Standing, installments: bool) -> View:
    """The headline, then what is offered and for which period (`Cotisation 2027: 7 000
    FCFA`) or that nothing is due; `1 Payer ce montant` when the offer is payable at once,
    `2 Autre montant` when the product allows installments or nothing (payable) is offered."""
    offered = found.offer.amount
    summary = [headline_text(found, t.lang), offer_text(found.offer, t.lang) or t("pay_nothing")]
    flags = {"due"} if _payable(offered) else set()
    if installments or not _payable(offered):
        flags.add("other")
    return View({"summary": "\n".join(summary)}, flags=frozenset(flags))


def choose_pay(ctx: Ctx[PayMemory], value: str) -> str | None:
    """1 keeps the amount offered for the confirmation; 2 asks for an amount."""
    if value == "1":
        found, _ = _standing(ctx)
        if not _payable(found.offer.amount):
            raise Reprompt("err_choice")
        ctx.data["pay_amount"] = found.offer.amount
    return None


def pay_amount(ctx: Ctx[PayMemory], value: str) -> str | None:
    """Whole francs within the wallet limits; anything else re-prompts with the reason."""
    try:
        amount = int(value)
    except ValueError:
        raise Reprompt("err_amount") from None
    if amount < MIN_PAYMENT:
        raise Reprompt("err_amount_min")
    if amount > MAX_PAYMENT:
        raise Reprompt("err_amount_max")
    ctx.data["pay_amount"] = amount
    return None


def pay_confirm(ctx: Ctx[PayMemory]) -> View:
    amount = int(ctx.data.get("pay_amount", 0))
    return pay_confirm_view(ctx.t, amount, str(ctx.data.get("pay_period", "")), ctx.phone)


def pay_confirm_view(t: Translator, amount: int, period: str, phone: str) -> View:
    """The amount, the period it goes to (D6b, D7: when one is offered) and the wallet."""
    purpose = t("pay_for", period=period) if period else ""
    return View({"amount": t.amount(amount), "purpose": purpose, "phone": phone})


def confirm_pay(ctx: Ctx[PayMemory], value: str) -> str | None:
    """1 writes the intent (one per USSD session: a replayed or duplicated hop finds the
    same one) and defers its initiation until the hop commits; 2 cancels."""
    if value != "1":
        return None
    try:
        intent = create_intent(
            ctx.db,
            household=household_of(ctx),
            amount=int(ctx.data.get("pay_amount", 0)),
            msisdn=ctx.phone,
            now=ctx.clock.now(),
            origin_key=origin_key(ctx.session) if ctx.session else None,
        )
    except AmountRefused:
        raise Reprompt("err_amount") from None
    ctx.data["pay_reference"] = intent.reference
    defer(ctx.db, "initiate-payment", str(intent.id), job_id=f"initiate-payment-{intent.id}")
    return None


def origin_key(session: str) -> str:
    """`ussd-pay:<hash of the provider's session key>`: fits the column whatever the id."""
    return "ussd-pay:" + hashlib.sha256(session.encode()).hexdigest()[:40]


def pay_sent(ctx: Ctx[PayMemory]) -> View:
    return View({"amount": ctx.t.amount(int(ctx.data.get("pay_amount", 0)))})


def check_amount_input(value: str) -> bool:
    return bool(AMOUNT_RE.fullmatch(value))


ACTIONS = {"choose_pay": choose_pay, "pay_amount": pay_amount, "confirm_pay": confirm_pay}
VIEWS = {"pay_due": pay_due, "pay_confirm": pay_confirm, "pay_sent": pay_sent}
SAMPLES = {
    "pay_due": lambda t: [pay_due_view(t, found, True) for found in sample_standings()],
    "pay_confirm": lambda t: [
        pay_confirm_view(t, samples.BIG_AMOUNT, "2026-2027", SAMPLE_PHONE),
        pay_confirm_view(t, samples.BIG_AMOUNT, "", SAMPLE_PHONE),
    ],
    "pay_sent": lambda t: [View({"amount": t.amount(samples.BIG_AMOUNT)})],
}
