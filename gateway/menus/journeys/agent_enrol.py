"""Collector option 5, Inscrire un ménage (D24): the head's name, sex, year of birth, phone and
section, then each dependant's name, sex and year of birth, a summary to confirm. Every answer
is written at once to the collector's DRAFT (services.members.enrolment), so a dropped session
loses nothing: the next time option 5 is chosen, `1 Continuer` resumes at the first question
not yet answered. A bad answer re-prompts with what is wrong. Confirming makes the enrolment
PENDING; one that may repeat a member or another enrolment is flagged for the manager, and
the collector is told it will be checked."""

from __future__ import annotations

from dataclasses import replace

from gateway.menus.engine.catalog import Translator
from gateway.menus.engine.render import item_keys
from gateway.menus.engine.screens import Action, Ctx, Item, Option, Reprompt, Screen, View
from gateway.menus.journeys import samples
from gateway.menus.journeys.agent_cash import CANCEL, CANCELLED, CONFIRM, agent_of
from gateway.menus.journeys.memory import EnrolMemory
from gateway.models import Enrolment
from gateway.services.members import (
    BadAnswer,
    cancel_draft,
    dependant_answer,
    dependant_name,
    draft_of,
    draft_started,
    next_step,
    sections_of,
    set_count,
    set_head,
    set_section,
    start_draft,
    submit_enrolment,
)

ENROL = "5"  # the collector menu's option (ussd.md menu map: options 1-4 stay as they are)
SECTION_MAX = 20
# A step of services.members.enrolment.next_step -> its screen.
SCREEN_OF = {
    "name": "enrol_name",
    "sex": "enrol_sex",
    "year": "enrol_year",
    "phone": "enrol_phone",
    "section": "enrol_section",
    "count": "enrol_count",
    "dep_name": "enrol_dep_name",
    "dep_sex": "enrol_dep_sex",
    "dep_year": "enrol_dep_year",
    "summary": "enrol_summary",
}
EVERY = tuple(SCREEN_OF.values())
# BadAnswer.reason -> the re-prompt line.
ERRORS = {
    "name": "err_enrol_name",
    "name_long": "err_enrol_name_long",
    "sex": "err_choice",
    "year": "err_enrol_year",
    "phone": "err_enrol_phone",
    "section": "err_enrol_section",
    "count": "err_enrol_count",
    "incomplete": "err_enrol_count",
}
SEXES = (Option("1", "opt_male", ""), Option("2", "opt_female", ""))


def _sex_screen(name: str, text: str, next_: str, action: str) -> Screen:
    options = tuple(Option(o.key, o.label_key, next_) for o in SEXES)
    return Screen(
        name, "menu", text, options=options, view="enrol_person", action=action, exits=EVERY
    )


def _input(name: str, text: str, check: str, action: str) -> Screen:
    return Screen(
        name, "input", text, validator=check, action=action, view="enrol_person", exits=EVERY
    )


SCREENS = (
    Screen(
        "enrol_resume",
        "menu",
        "enrol_resume",
        options=(
            Option("1", "opt_continue", "enrol_name"),
            Option("2", "opt_restart", "enrol_name"),
        ),
        view="enrol_person",
        action="enrol_resume",
        exits=EVERY,
    ),
    _input("enrol_name", "enrol_name", "enrol_text", "enrol_head_name"),
    _sex_screen("enrol_sex", "enrol_sex", "enrol_year", "enrol_head_sex"),
    _input("enrol_year", "enrol_year", "enrol_year", "enrol_head_year"),
    _input("enrol_phone", "enrol_phone", "enrol_phone", "enrol_head_phone"),
    Screen(
        "enrol_section",
        "input",
        "enrol_section",
        validator="number",
        action="enrol_section",
        view="enrol_sections",
        next="enrol_count",
        exits=EVERY,
    ),
    # `0` is an answer here (no dependants), not the back key.
    replace(_input("enrol_count", "enrol_count", "enrol_count", "enrol_count"), back=False),
    _input("enrol_dep_name", "enrol_dep_name", "enrol_text", "enrol_dep_name"),
    _sex_screen("enrol_dep_sex", "enrol_dep_sex", "enrol_dep_year", "enrol_dep_sex"),
    _input("enrol_dep_year", "enrol_dep_year", "enrol_year", "enrol_dep_year"),
    # The whole household on one screen: dense (a re-prompt shows the options only).
    Screen(
        "enrol_summary",
        "menu",
        "enrol_summary",
        options=(
            Option(CONFIRM, "opt_cash_confirm", "enrol_done"),
            Option(CANCEL, "opt_cash_cancel", CANCELLED),
        ),
        view="enrol_summary",
        action="enrol_submit",
        dense=True,
        exits=EVERY,
    ),
    Screen("enrol_done", "end", "enrol_done", view="enrol_done"),
)


def _draft(ctx: Ctx[EnrolMemory]) -> Enrolment:
    """The collector's draft; a new one if it went (decided elsewhere, or never started)."""
    agent = agent_of(ctx)
    return draft_of(ctx.db, agent) or start_draft(ctx.db, agent, ctx.lang)


def choose(ctx: Ctx[EnrolMemory], key: str) -> str | None:
    """The collector menu's action: option 5 offers to continue a started draft."""
    if key != ENROL:
        return None
    agent = agent_of(ctx)
    if draft_started(draft_of(ctx.db, agent)):
        return "enrol_resume"
    start_draft(ctx.db, agent, ctx.lang)
    return "enrol_name"


def resume(ctx: Ctx[EnrolMemory], key: str) -> str | None:
    """1: the first question without an answer; 2: a new draft from the head's name."""
    if key == "2":
        start_draft(ctx.db, agent_of(ctx), ctx.lang)
        return "enrol_name"
    return SCREEN_OF[next_step(ctx.db, _draft(ctx))]


def _answer(ctx: Ctx[EnrolMemory], apply: str, value: str) -> str:
    """Apply one answer to the draft; the screen of the next question."""
    draft = _draft(ctx)
    agent = agent_of(ctx)
    try:
        if apply == "section":
            _set_section(ctx, draft, value)
        elif apply == "count":
            set_count(ctx.db, draft, value)
        elif apply == "dep_name":
            dependant_name(ctx.db, draft, value)
        elif apply.startswith("dep_"):
            dependant_answer(draft, apply.removeprefix("dep_"), value, ctx.today)
        else:
            set_head(draft, apply, value, ctx.today, agent.mutual.country)
    except BadAnswer as exc:
        raise Reprompt(ERRORS[exc.reason]) from None
    ctx.db.flush()
    return SCREEN_OF[next_step(ctx.db, draft)]


def _set_section(ctx: Ctx[EnrolMemory], draft: Enrolment, value: str) -> None:
    sections = sections_of(ctx.db, draft.mutual_id)
    chosen = dict(zip(item_keys(len(sections)), sections, strict=True)).get(value)
    if chosen is None:
        raise BadAnswer("section")
    set_section(ctx.db, draft, chosen.id)


def submit(ctx: Ctx[EnrolMemory], key: str) -> str | None:
    """1 makes the draft PENDING (flagged if it may be a duplicate); 2 drops it."""
    agent = agent_of(ctx)
    if key != CONFIRM:
        cancel_draft(ctx.db, agent)
        return None
    draft = _draft(ctx)
    try:
        done = submit_enrolment(ctx.db, draft, ctx.clock.now())
    except BadAnswer:
        return SCREEN_OF[next_step(ctx.db, draft)]
    ctx.data["enrolled"] = {"id": done.id, "duplicate": bool(done.duplicates)}
    return None


# --- views -------------------------------------------------------------------------------


def person_view(ctx: Ctx[EnrolMemory]) -> View:
    """Whom the question is about: the head, or dependant n of N."""
    draft = _draft(ctx)
    deps = draft.dependants
    typing = deps[-1] if deps and (deps[-1].sex is None or deps[-1].birth_year is None) else None
    n = len(deps) if typing is not None else len(deps) + 1
    return person(
        draft.head_name or "-",
        typing.full_name if typing else "-",
        n,
        draft.dependants_expected or 0,
    )


def person(head: str, dependant: str, n: int, total: int) -> View:
    return View({"name": head, "dependant": dependant, "n": n, "total": total})


def sections_view(ctx: Ctx[EnrolMemory]) -> View:
    sections = sections_of(ctx.db, agent_of(ctx).mutual_id)
    return section_list([s.name for s in sections])


def section_list(names: list[str]) -> View:
    return View(items=tuple(Item(name[:SECTION_MAX], str(i)) for i, name in enumerate(names)))


def summary_view(ctx: Ctx[EnrolMemory]) -> View:
    draft = _draft(ctx)
    section = draft.section.name if draft.section else "-"
    return summary(
        ctx.t,
        draft.head_name or "-",
        draft.head_sex or "M",
        draft.head_year or 0,
        draft.head_phone or "-",
        section,
        len(draft.dependants),
    )


def summary(
    t: Translator, name: str, sex: str, year: int, phone: str, section: str, count: int
) -> View:
    params = {"name": name, "sex": t(f"sex_{sex}"), "year": year, "phone": phone}
    return View({**params, "section": section[:SECTION_MAX], "count": count})


def done_view(ctx: Ctx[EnrolMemory]) -> View:
    done = ctx.data["enrolled"]
    return done_text(ctx.t, done["id"], done["duplicate"])


def done_text(t: Translator, number: int, duplicate: bool) -> View:
    return View({"id": number, "note": t("enrol_flagged" if duplicate else "enrol_wait")})


def _action(step: str) -> Action:
    """The action of one question: the answer applied to the draft as `step`."""

    def act(ctx: Ctx[EnrolMemory], value: str) -> str | None:
        return _answer(ctx, step, value)

    return act


ACTIONS = {
    "agent_choice": choose,
    "enrol_resume": resume,
    "enrol_head_name": _action("name"),
    "enrol_head_sex": _action("sex"),
    "enrol_head_year": _action("year"),
    "enrol_head_phone": _action("phone"),
    "enrol_section": _action("section"),
    "enrol_count": _action("count"),
    "enrol_dep_name": _action("dep_name"),
    "enrol_dep_sex": _action("dep_sex"),
    "enrol_dep_year": _action("dep_year"),
    "enrol_submit": submit,
}
VIEWS = {
    "enrol_person": person_view,
    "enrol_sections": sections_view,
    "enrol_summary": summary_view,
    "enrol_done": done_view,
}
LONG_PHONE = "+22670123456789"
SAMPLES = {
    "enrol_person": lambda t: [person(samples.LONG_NAME, samples.LONG_NAME, 20, 20)],
    "enrol_sections": lambda t: [section_list(["Koudougou-Centre-Nord"] * 30)],
    "enrol_summary": lambda t: [
        summary(t, samples.LONG_NAME, sex, 1985, LONG_PHONE, "Koudougou-Centre-Nord", 20)
        for sex in ("M", "F")
    ],
    "enrol_done": lambda t: [done_text(t, 9_999_999, dup) for dup in (True, False)],
}
_NAME_INPUT_MAX = 100  # anything longer is refused by the action with a clear line
CHECKS = {
    "enrol_text": lambda v: 0 < len(v) <= _NAME_INPUT_MAX,
    "enrol_year": lambda v: v.isascii() and v.isdigit() and len(v) == 4,
    "enrol_phone": lambda v: 0 < len(v) <= 20 and v.lstrip("+").isdigit(),
    "enrol_count": lambda v: v.isascii() and v.isdigit() and len(v) <= 2,
}
ERROR_KEYS = {
    "enrol_text": "err_enrol_name",
    "enrol_year": "err_enrol_digits",
    "enrol_phone": "err_enrol_phone",
    "enrol_count": "err_enrol_count",
}
