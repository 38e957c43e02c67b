"""The menu map (ussd.md) assembled: every journey's screens, actions, views and samples in
one registry, plus the input checks and the engine's own resume screen. Built once per
process, on first use."""

from __future__ import annotations

import re
from functools import cache
from types import ModuleType

from gateway.menus.engine.machine import RESUME
from gateway.menus.engine.screens import Option, Registry, Screen
from gateway.menus.journeys import (
    agent,
    agent_cash,
    agent_enrol,
    agent_remit,
    caller,
    member,
    member_pay,
    visitor,
)

JOURNEYS: tuple[ModuleType, ...] = (
    member, member_pay, visitor, agent, agent_cash, agent_remit, agent_enrol,
)  # fmt: skip
# Where a session may begin (caller.identify and the resume offer).
STARTS = ("member_menu", "member_choose", "visitor_menu", "agent_pin", caller.UNAVAILABLE, RESUME)
_PIN = re.compile(r"[0-9]{4,6}")
_NUMBER = re.compile(r"[0-9]{1,32}")

RESUME_SCREEN = Screen(
    RESUME,
    "menu",
    "resume",
    options=(
        # The engine restores the dropped frame (1) or the session's normal start (2).
        Option("1", "opt_continue", "member_menu"),
        Option("2", "opt_restart", "member_choose"),
    ),
    back=False,
    home=False,
)

# A service code that no mutual declares (caller.identify): END, in the default language.
UNAVAILABLE_SCREEN = Screen(caller.UNAVAILABLE, "end", caller.UNAVAILABLE)


@cache
def registry() -> Registry:
    reg = Registry()
    reg.add(RESUME_SCREEN, UNAVAILABLE_SCREEN)
    for journey in JOURNEYS:
        reg.add(*journey.SCREENS)
        for table, entries in (
            (reg.actions, journey.ACTIONS),
            (reg.views, journey.VIEWS),
            (reg.samples, journey.SAMPLES),
        ):
            for name, fn in entries.items():
                if table.get(name, fn) is not fn:
                    raise ValueError(f"{journey.__name__}: {name} registered twice")
                table[name] = fn
        reg.checks.update(getattr(journey, "CHECKS", {}))  # input checks of one journey
        reg.error_keys.update(getattr(journey, "ERROR_KEYS", {}))
    reg.checks.update(
        pin=lambda v: bool(_PIN.fullmatch(v)),
        number=lambda v: bool(_NUMBER.fullmatch(v)),
        amount=member_pay.check_amount_input,
    )
    reg.error_keys.update(pin="err_pin_format", number="err_number", amount="err_amount")
    reg.starts.extend(STARTS)
    return reg
