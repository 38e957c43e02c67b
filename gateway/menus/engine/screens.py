"""Screens are data (ussd.md): what each screen says, which options lead where, how its input
is checked and which action runs. Journeys declare screens, actions, views and samples; the
engine interprets them and the validator checks them, so neither reads journey code.

- `menu`: numbered options (static `Option`s, or the `items` of a view), CON.
- `input`: free input checked by a named validator, then the action, CON.
- `end`: END; the session is over.
A `dense` menu (a result with a few options, no list: the agent's check, D13) may fill the
whole budget: no room is kept for an error line, so a re-prompt shows the error with the
options and navigation only (the text was just read).
An action returns the next screen (one of `next`, the chosen option's target or `exits`), or
None for the default, or raises Reprompt to show the screen again with an error line.
A view returns the screen's placeholders, list items (paginated with `98`) and flags (an
`Option.when` names a flag: the option shows only when the view sets it, numbers stay fixed)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from sqlalchemy.orm import Session

from gateway.clock import Clock
from gateway.menus.engine.catalog import Translator

Kind = Literal["menu", "input", "end"]
RESERVED = ("0", "00", "98")  # back, main menu, next page: never ordinary options
# The session memory a journey's actions and views read (gateway.menus.journeys.memory). Covariant:
# a function of the member journey also serves the pay journey, whose memory extends it.
M = TypeVar("M", covariant=True)


@dataclass(frozen=True)
class Option:
    key: str
    label_key: str
    target: str
    when: str | None = None


@dataclass(frozen=True)
class Screen:
    name: str
    kind: Kind
    text: str
    options: tuple[Option, ...] = ()
    validator: str | None = None
    next: str | None = None
    action: str | None = None
    view: str | None = None
    back: bool = True
    home: bool = True
    secret: bool = False  # its input is a PIN: never stored, logged or echoed
    dense: bool = False  # fills the budget; a re-prompt drops the text (module docstring)
    exits: tuple[str, ...] = ()  # other screens the action may lead to (for the validator)


@dataclass(frozen=True)
class Item:
    """A list line; with a `value` it is a numbered choice passed to the screen's action."""

    text: str
    value: str | None = None


@dataclass(frozen=True)
class View:
    params: Mapping[str, object] = field(default_factory=dict)
    items: tuple[Item, ...] = ()
    flags: frozenset[str] = frozenset()


class Reprompt(Exception):
    """Raised by an action: show the same screen again with this short error line."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


class StaleSession(Exception):
    """What the session remembers is gone (a household or agent deleted mid-session): the
    engine starts the session again from who is calling, instead of failing the hop."""


@dataclass
class Ctx(Generic[M]):
    """What actions and views see. `data` is the session's JSON-able memory (household,
    agent, ...), saved in Redis after the hop; `lang` may be changed by an action."""

    db: Session
    clock: Clock
    phone: str
    service_code: str
    data: M
    lang: str
    # For actions: this step of this session (keyed digest of the session and its inputs so
    # far, plus the screen); the same on a replay, so an effect can be made idempotent by it.
    key: str = ""
    session: str = ""  # the provider's session key: one payment intent per USSD session

    @property
    def t(self) -> Translator:
        return Translator(self.lang)

    @property
    def today(self) -> dt.date:
        return self.clock.today()


# The engine passes the stored memory as it is; each function declares which journey's it is.
Action = Callable[[Ctx[Any], str], str | None]
ViewFn = Callable[[Ctx[Any]], View]
# Views with the longest realistic values, for the validator (no database).
Sample = Callable[[Translator], list[View]]
InputCheck = Callable[[str], bool]


@dataclass
class Registry:
    """Everything the engine interprets; built once from the journey modules."""

    screens: dict[str, Screen] = field(default_factory=dict)
    actions: dict[str, Action] = field(default_factory=dict)
    views: dict[str, ViewFn] = field(default_factory=dict)
    samples: dict[str, Sample] = field(default_factory=dict)
    checks: dict[str, InputCheck] = field(default_factory=dict)
    error_keys: dict[str, str] = field(default_factory=dict)  # validator -> error text key
    starts: list[str] = field(default_factory=list)  # where sessions may begin

    def add(self, *screens: Screen) -> None:
        for screen in screens:
            if screen.name in self.screens:
                raise ValueError(f"screen {screen.name} declared twice")
            self.screens[screen.name] = screen

    def screen(self, name: str) -> Screen:
        return self.screens[name]
