"""The agent journey (D19, D13): PIN first (3 wrong tries lock for 15 minutes, through
services.agents.check_pin; the PIN is never shown, stored or logged), then the role's menu.
Facility staff verify beneficiaries, several in one session: the result (D13) offers
`1 Autre carte` and `00` home; collectors and supervisors see the collector menu, whose
options 2-4 (cash, D20-D21) live in gateway.menus.journeys.agent_cash."""

from __future__ import annotations

from gateway.clock import zone
from gateway.menus.engine.catalog import Translator
from gateway.menus.engine.render import short_name
from gateway.menus.engine.screens import Ctx, Option, Reprompt, Screen, StaleSession, View
from gateway.menus.journeys import samples
from gateway.menus.journeys.memory import AgentMemory
from gateway.menus.journeys.status import verify_view
from gateway.menus.journeys.verify import AMBIGUOUS, check_number, checked_view
from gateway.models import Agent
from gateway.services import agents
from gateway.services.coverage import Status

COLLECTOR, FACILITY, SUPERVISOR = "agent_collector", "agent_facility", "agent_supervisor"

OPTION_LABELS = ("opt_verify", "opt_collect", "opt_cash", "opt_remit", "opt_enrol")


def _agent_menu(name: str, *targets: str) -> Screen:
    """A role's home screen: options 1.. in the order verify, collect, my cash, remit, enrol
    (option 5, D24: its action offers to continue a started enrolment). With five options the
    menu is dense: a wrong choice re-shows the options without the agent's name."""
    options = tuple(
        Option(str(n), label, target)
        for n, (label, target) in enumerate(zip(OPTION_LABELS, targets, strict=False), start=1)
    )
    enrols = len(targets) >= len(OPTION_LABELS)  # five options: dense (no error line room)
    return Screen(name, "menu", "agent_menu", options=options, view="agent_menu", back=False,
                  home=False, action="agent_choice" if enrols else None, dense=enrols,
                  exits=("enrol_resume",) if enrols else ())  # fmt: skip


SCREENS = (
    Screen(
        "agent_pin",
        "input",
        "agent_pin",
        validator="pin",
        action="check_pin",
        back=False,
        home=False,
        secret=True,
        exits=(COLLECTOR, FACILITY, SUPERVISOR, "agent_locked", "agent_refused"),
    ),
    # Options 2-4 (D20, D21): screens in gateway.menus.journeys.agent_cash and agent_remit.
    _agent_menu(
        COLLECTOR, "agent_verify", "agent_collect", "agent_cash", "agent_remit", "enrol_name"
    ),
    # Supervisors: the collector menu, whose option 4 also lets them confirm (D21).
    _agent_menu(
        SUPERVISOR,
        "agent_verify",
        "agent_collect",
        "agent_cash",
        "agent_remit_choice",
        "enrol_name",
    ),
    _agent_menu(FACILITY, "agent_verify"),
    Screen(
        "agent_verify",
        "input",
        "ask_number",
        validator="number",
        action="check_number",
        next="agent_checked",
        exits=(AMBIGUOUS,),
    ),
    # D13 then the next card: a dense menu (the longest result fills the screen), no `0`
    # (back is the number screen, which `1` already gives).
    Screen(
        "agent_checked",
        "menu",
        "verify_result",
        options=(Option("1", "opt_verify_next", "agent_verify"),),
        view="checked",
        back=False,
        dense=True,
    ),
    Screen("agent_locked", "end", "agent_locked", view="locked"),
    Screen("agent_refused", "end", "agent_refused"),
)


def check_pin(ctx: Ctx[AgentMemory], pin: str) -> str | None:
    """D19 through services.agents: a wrong PIN re-prompts with the tries left, the third
    locks; the caller commits the count whatever the outcome."""
    agent = ctx.db.get(Agent, int(ctx.data["agent_id"]))
    if agent is None:
        raise StaleSession("agent is gone")
    result = agents.check_pin(ctx.db, agent, pin, ctx.clock.now())
    if result.ok:
        home = {"facility": FACILITY, "supervisor": SUPERVISOR}.get(agent.role, COLLECTOR)
        ctx.data.update({"home": home, "role": agent.role, "name": agent.name})
        return home
    if result.status == "wrong":
        raise Reprompt("err_pin_wrong", tries=result.tries_left)
    if result.status == "locked" and result.locked_until is not None:
        local = result.locked_until.astimezone(zone(agent.mutual.timezone))
        ctx.data["locked_until"] = local.strftime("%H:%M")
        return "agent_locked"
    return "agent_refused"


def agent_menu(ctx: Ctx[AgentMemory]) -> View:
    return View({"name": short_name(str(ctx.data.get("name", "")))})


def locked(ctx: Ctx[AgentMemory]) -> View:
    return View({"time": ctx.data.get("locked_until", "")})


def _checked_samples(t: Translator) -> list[View]:
    day = samples.LONG_DATE
    return [
        verify_view(t, samples.LONG_NAME, sex, 1990, status, day, day, samples.LONG_COPAY)
        for sex in ("M", "F")
        for status in Status
    ] + [verify_view(t, samples.LONG_NAME, "F", None, Status.COVERED, day, None, {})]


ACTIONS = {"check_pin": check_pin, "check_number": check_number}
VIEWS = {"agent_menu": agent_menu, "locked": locked, "checked": checked_view}
SAMPLES = {
    "agent_menu": lambda t: [View({"name": short_name(samples.LONG_NAME)})],
    "locked": lambda t: [View({"time": samples.LONG_TIME})],
    "checked": _checked_samples,
}
