"""The state machine of one hop: apply an input to a frame (reserved keys, options, validated
input, actions) and render the frame's screen. The engine around it handles Redis, locks and
idempotency; this module knows nothing of them.

Reserved keys (ussd.md): `0` back (previous page first), `00` main menu, `98` next page. A
wrong input keeps the screen and sets a short error line; it never ends the session."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from gateway.clock import Clock
from gateway.menus.engine.render import Nav, bare_page, choices, screen_pages, with_error
from gateway.menus.engine.screens import Ctx, Item, Option, Registry, Reprompt, Screen, View
from gateway.menus.engine.store import Frame

RESUME = "resume"  # the engine's own screen: 1 continue the dropped session, 2 start again
SECRET_MASK = "xxxx"
EMPTY_VIEW = View()


@dataclass
class Machine:
    """One hop's interpreter; views are computed at most once per screen between actions."""

    registry: Registry
    db: Session
    clock: Clock
    phone: str
    service_code: str
    budget: int
    session: str = ""
    _views: dict[str, View] = field(default_factory=dict)

    def ctx(self, frame: Frame) -> Ctx[dict[str, Any]]:
        return Ctx(
            self.db,
            self.clock,
            self.phone,
            self.service_code,
            frame.data,
            frame.lang,
            session=self.session,
        )

    def view(self, frame: Frame, screen: Screen) -> View:
        if screen.view is None:
            return EMPTY_VIEW
        cache_key = f"{screen.name}:{frame.lang}"
        if cache_key not in self._views:
            self._views[cache_key] = self.registry.views[screen.view](self.ctx(frame))
        return self._views[cache_key]

    def nav(self, frame: Frame, screen: Screen) -> Nav:
        home = frame.data.get("home")
        return Nav(
            back=screen.back and (frame.page > 0 or bool(frame.stack)),
            home=screen.home and home is not None and home != frame.screen,
        )

    def step(self, frame: Frame, value: str, memo_key: str, effects: dict[str, Any]) -> str:
        """Apply one input; returns it as the audit may see it (PIN inputs masked)."""
        screen = self.registry.screen(frame.screen)
        frame.error = None
        logged = SECRET_MASK if screen.secret else value
        if screen.kind == "end":
            return logged
        nav = self.nav(frame, screen)
        if value == "00" and nav.home:
            self._home(frame)
        elif value == "0" and nav.back:
            self._back(frame)
        elif value == "98" and self._has_next_page(frame, screen, nav):
            frame.page += 1
        else:
            self._select(frame, screen, value, f"{memo_key}:{screen.name}", effects)
        return logged

    def render(self, frame: Frame) -> tuple[str, bool]:
        screen = self.registry.screen(frame.screen)
        view = self.view(frame, screen)
        ctx = self.ctx(frame)
        nav = self.nav(frame, screen)
        pages = screen_pages(screen, view, ctx.t, self.budget, nav)
        frame.page = min(frame.page, len(pages) - 1)
        error = ctx.t(frame.error[0], **frame.error[1]) if frame.error else None
        page = bare_page(screen, view, ctx.t, nav) if error and screen.dense else pages[frame.page]
        return with_error(page, error, self.budget), screen.kind == "end"

    # --- transitions ---------------------------------------------------------------------

    def _select(
        self, frame: Frame, screen: Screen, value: str, memo_key: str, effects: dict[str, Any]
    ) -> None:
        if screen.name == RESUME:
            self._resume(frame, value)
            return
        if screen.kind == "menu":
            chosen = choices(screen, self.view(frame, screen)).get(value)
            if chosen is None:
                frame.error = ["err_choice", {}]
                return
            arg, default = _selection(chosen, screen)
        else:
            check = screen.validator or ""
            if not self.registry.checks[check](value):
                frame.error = [self.registry.error_keys[check], {}]
                return
            arg, default = value, screen.next
        target = self._act(frame, screen, arg, memo_key, effects) if screen.action else default
        if frame.error is None:
            self._goto(frame, target or default or frame.screen)

    def _act(
        self, frame: Frame, screen: Screen, arg: str, memo_key: str, effects: dict[str, Any]
    ) -> str | None:
        """Run the screen's action once per (input history, screen): a replayed history
        restores the recorded outcome instead of repeating the effect."""
        if memo_key not in effects:
            ctx = self.ctx(frame)
            ctx.key = memo_key
            error: list[Any] | None = None
            try:
                target = self.registry.actions[screen.action or ""](ctx, arg)
            except Reprompt as exc:
                target, error = None, [exc.key, exc.params]
            effects[memo_key] = [target, copy.deepcopy(ctx.data), ctx.lang, error]
            self._views.clear()  # the action may have changed what views show
        target, data, lang, error = effects[memo_key]
        if target is not None and target not in (screen.next, *screen.exits, *_targets(screen)):
            raise ValueError(f"action {screen.action} led to undeclared screen {target}")
        frame.data.clear()
        frame.data.update(copy.deepcopy(data))
        frame.lang, frame.error = lang, error
        return target  # type: ignore[no-any-return]

    def _goto(self, frame: Frame, target: str) -> None:
        if target == frame.screen:
            frame.page = 0
            return
        if self.registry.screen(target).back:
            frame.stack.append(frame.screen)
        else:
            frame.stack.clear()
        frame.screen, frame.page = target, 0

    def _back(self, frame: Frame) -> None:
        if frame.page > 0:
            frame.page -= 1
        else:
            frame.screen, frame.page = frame.stack.pop(), 0

    def _home(self, frame: Frame) -> None:
        home = str(frame.data["home"])
        if home in frame.stack:
            del frame.stack[len(frame.stack) - 1 - frame.stack[::-1].index(home) :]
        else:
            frame.stack.clear()
        frame.screen, frame.page = home, 0

    def _has_next_page(self, frame: Frame, screen: Screen, nav: Nav) -> bool:
        if screen.view is None:
            return False
        t = self.ctx(frame).t
        return frame.page + 1 < len(
            screen_pages(screen, self.view(frame, screen), t, self.budget, nav)
        )

    def _resume(self, frame: Frame, value: str) -> None:
        """ussd.md Resume: 1 restores the dropped session's frame, 2 starts afresh."""
        saved = {"1": frame.data.get("resume"), "2": frame.data.get("restart")}.get(value)
        if not isinstance(saved, dict):
            frame.error = ["err_choice", {}]
            return
        restored = Frame(**copy.deepcopy(saved))
        frame.screen, frame.stack, frame.page = restored.screen, restored.stack, 0
        frame.data.clear()
        frame.data.update(restored.data)
        frame.lang, frame.error = restored.lang, None


def _selection(chosen: Option | Item, screen: Screen) -> tuple[str, str | None]:
    """(what the action receives, where to go by default)."""
    if isinstance(chosen, Option):
        return chosen.key, chosen.target
    return chosen.value or "", screen.next


def _targets(screen: Screen) -> tuple[str, ...]:
    return tuple(option.target for option in screen.options)
