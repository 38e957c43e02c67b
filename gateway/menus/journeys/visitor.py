"""The visitor journey (ussd.md): a phone linked to no household and no agent. 1 checks a
beneficiary number (status and date only: D13 without name nor co-payment), 2 gives the
mutual's contact. The mutual is the one whose service code was dialled (caller.identify)."""

from __future__ import annotations

from gateway.menus.engine.catalog import Translator
from gateway.menus.engine.screens import Ctx, Option, Screen, View
from gateway.menus.journeys import samples
from gateway.menus.journeys.memory import VisitorMemory
from gateway.menus.journeys.status import contact_view, status_line
from gateway.menus.journeys.verify import AMBIGUOUS, check_number, contact, day_of
from gateway.services.coverage import Status

SCREENS = (
    Screen(
        "visitor_menu",
        "menu",
        "visitor_menu",
        options=(
            Option("1", "opt_verify", "visitor_number"),
            Option("2", "opt_help", "visitor_help"),
        ),
        view="contact",
        back=False,
        home=False,
    ),
    Screen(
        "visitor_number",
        "input",
        "ask_number",
        validator="number",
        action="check_number",
        next="visitor_result",
        exits=(AMBIGUOUS,),
    ),
    Screen("visitor_result", "end", "visitor_result", view="visitor_checked"),
    Screen("visitor_help", "end", "help", view="contact"),
    # Shared with the agents' check: a number several records answer to.
    Screen(AMBIGUOUS, "end", "ambiguous", view="contact"),
)


def visitor_checked(ctx: Ctx[VisitorMemory]) -> View:
    c = ctx.data["checked"]
    status = Status(c["status"])
    return _checked_view(ctx.t, c["number"], status, c["until"], c["since"])


def _checked_view(
    t: Translator, number: str, status: Status, until: str | None, since: str | None
) -> View:
    """Status and date only: a visitor learns nothing else about the person (D13)."""
    return View({"number": number, "status": status_line(t, status, day_of(until), day_of(since))})


def _checked_samples(t: Translator) -> list[View]:
    day = samples.LONG_DATE.isoformat()
    return [_checked_view(t, samples.LONG_NUMBER, status, day, day) for status in Status]


ACTIONS = {"check_number": check_number}
VIEWS = {"contact": contact, "visitor_checked": visitor_checked}
SAMPLES = {
    "contact": lambda t: [
        contact_view(t, samples.LONG_MUTUAL, samples.LONG_CONTACT),
        contact_view(t, "", None),
    ],
    "visitor_checked": _checked_samples,
}
