"""The member journey (ussd.md menu map; option numbers are the public contract):
1 Ma couverture (D12), 2 Payer ma cotisation (member_pay.py), 3 Mes paiements,
4 Rappels SMS (D18), 5 Langue. A phone linked to several households first chooses one
(`1 H-0001 Ouedraogo`)."""

from __future__ import annotations

from sqlalchemy import and_, select

from gateway.menus.engine.catalog import LANGUAGES, Translator, pick_language
from gateway.menus.engine.screens import Ctx, Item, Option, Reprompt, Screen, View
from gateway.menus.journeys import samples
from gateway.menus.journeys.caller import member_data
from gateway.menus.journeys.member_views import (
    coverage,
    coverage_samples,
    household_of,
    payments,
    payments_samples,
)
from gateway.menus.journeys.memory import MemberMemory
from gateway.models import Beneficiary, Household

FAMILY_MAX = 20

SCREENS = (
    Screen(
        "member_choose",
        "menu",
        "member_choose",
        view="households",
        action="choose_household",
        next="member_menu",
        back=False,
        home=False,
    ),
    Screen(
        "member_menu",
        "menu",
        "member_menu",
        options=(
            Option("1", "opt_coverage", "member_coverage"),
            Option("2", "opt_pay", "member_pay"),
            Option("3", "opt_payments", "member_payments"),
            Option("4", "opt_reminders", "member_reminders"),
            Option("5", "opt_language", "member_language"),
        ),
        view="member_menu",
        home=False,
    ),
    Screen("member_coverage", "menu", "member_coverage", view="coverage"),
    Screen("member_payments", "menu", "member_payments", view="payments"),
    Screen(
        "member_reminders",
        "menu",
        "member_reminders",
        options=(
            Option("1", "opt_reminders_on", "member_reminders_on", when="off"),
            Option("2", "opt_reminders_off", "member_reminders_off", when="on"),
        ),
        action="set_reminders",
        view="reminders",
    ),
    Screen("member_reminders_on", "end", "reminders_on"),
    Screen("member_reminders_off", "end", "reminders_off"),
    Screen(
        "member_language",
        "menu",
        "member_language",
        view="languages",
        action="set_language",
        next="member_language_done",
    ),
    Screen("member_language_done", "end", "language_done", view="language_done"),
)


# --- choosing a household -----------------------------------------------------------------


def households(ctx: Ctx[MemberMemory]) -> View:
    """`10001 Ouedraogo`: the household number and the head's family name."""
    ids = [int(i) for i in ctx.data.get("households", [])]
    rows = ctx.db.execute(
        select(Household.id, Household.number, Beneficiary.full_name)
        .outerjoin(
            Beneficiary,
            and_(Beneficiary.household_id == Household.id, Beneficiary.relation == "head"),
        )
        .where(Household.id.in_(ids))
        .order_by(Household.number, Household.id)
    ).all()
    return View(items=tuple(Item(_label(r.number, r.full_name), str(r.id)) for r in rows))


def _label(number: str, head: str | None) -> str:
    family = (head or "").split()[-1:] or [""]
    return f"{number} {family[0][:FAMILY_MAX]}".strip()


def choose_household(ctx: Ctx[MemberMemory], value: str) -> str | None:
    if int(value) not in [int(i) for i in ctx.data.get("households", [])]:
        raise Reprompt("err_choice")
    household = ctx.db.get(Household, int(value))
    if household is None:
        raise Reprompt("err_choice")
    ctx.data.update(member_data(household.id, household.number))
    ctx.lang = pick_language(household.language, household.mutual.default_language)
    return None


def households_samples(t: Translator) -> list[View]:
    items = tuple(
        Item(_label(samples.LONG_HOUSEHOLD, f"Awa {samples.LONG_FAMILY}"), str(i))
        for i in range(samples.BIG_HOUSEHOLD)
    )
    return [View(items=items)]


# --- menu ---------------------------------------------------------------------


def member_menu(ctx: Ctx[MemberMemory]) -> View:
    return View({"household": ctx.data.get("household", "")})


# --- reminders (D18) ----------------------------------------------------------------------


def reminders(ctx: Ctx[MemberMemory]) -> View:
    enabled = household_of(ctx).reminders_enabled
    return _reminders_view(ctx.t, enabled)


def _reminders_view(t: Translator, enabled: bool) -> View:
    state = t("reminders_state_on" if enabled else "reminders_state_off")
    return View({"state": state}, flags=frozenset({"on" if enabled else "off"}))


def set_reminders(ctx: Ctx[MemberMemory], value: str) -> str | None:
    """D18: 1 restarts, 2 stops campaign reminders; receipts are still sent. The change time
    is kept only when the state really changes (a repeat changes nothing)."""
    household = household_of(ctx)
    enabled = value == "1"
    if household.reminders_enabled != enabled:
        household.reminders_enabled = enabled
        household.reminders_changed_at = ctx.clock.now()
    return None


# --- language -----------------------------------------------------------------------------


def languages(ctx: Ctx[MemberMemory]) -> View:
    """The mutual's languages that have a catalog, in the mutual's order."""
    codes = [c for c in household_of(ctx).mutual.languages or [] if c in LANGUAGES]
    return _languages_view(codes or list(LANGUAGES))


def _languages_view(codes: list[str]) -> View:
    return View(items=tuple(Item(LANGUAGES[code], code) for code in codes))


def set_language(ctx: Ctx[MemberMemory], value: str) -> str | None:
    """The household's language; the next screens speak it at once."""
    if value not in LANGUAGES:
        raise Reprompt("err_choice")
    household_of(ctx).language = value
    ctx.lang = value
    return None


def language_done(ctx: Ctx[MemberMemory]) -> View:
    return View({"language": LANGUAGES[ctx.lang]})


ACTIONS = {
    "choose_household": choose_household,
    "set_reminders": set_reminders,
    "set_language": set_language,
}
VIEWS = {
    "households": households,
    "member_menu": member_menu,
    "coverage": coverage,
    "payments": payments,
    "reminders": reminders,
    "languages": languages,
    "language_done": language_done,
}
SAMPLES = {
    "households": households_samples,
    "member_menu": lambda t: [View({"household": samples.LONG_HOUSEHOLD})],
    "coverage": coverage_samples,
    "payments": payments_samples,
    "reminders": lambda t: [_reminders_view(t, True), _reminders_view(t, False)],
    "languages": lambda t: [_languages_view(list(LANGUAGES))],
    "language_done": lambda t: [View({"language": name}) for name in LANGUAGES.values()],
}
