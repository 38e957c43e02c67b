"""Rendering (ussd.md): GSM-7 only, within the screen budget, long lists paginated with `98`.

Every text is transliterated to plain GSM-7 at render time (é -> e, ç -> c, œ -> oe, ’ -> ',
« » -> "); whatever is still outside the GSM-7 basic table fails the validator (`strict`) and
becomes `?` at run time. Lengths are counted after transliteration, on the text the phone shows
(without the `CON `/`END ` prefix). Pages keep room for one error line (`ERROR_MAX`), so a
re-prompt never pushes a screen over the budget and page breaks never move; a `dense` screen
(screens.py) uses the whole budget instead and is re-prompted without its text (`bare_page`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from gateway.lib import gsm7
from gateway.lib.gsm7 import GSM7 as GSM7
from gateway.lib.gsm7 import non_gsm as non_gsm
from gateway.lib.gsm7 import to_gsm as to_gsm
from gateway.menus.engine.catalog import Translator
from gateway.menus.engine.screens import RESERVED, Item, Option, Screen, View

ERROR_MAX = 30  # characters of an error line; the validator holds every catalog to it
NAME_MAX = 40  # longest name shown in full (D13); longer ones are cut


class RenderError(ValueError):
    """A screen that does not fit its budget or is not GSM-7 (validator, strict mode)."""


def clean(text: str, strict: bool = False) -> str:
    """Transliterate (gateway.services.gsm7); strict mode raises RenderError for the validator."""
    try:
        return gsm7.clean(text, strict)
    except gsm7.NotGsm7 as exc:
        raise RenderError(str(exc)) from exc


def item_keys(count: int, taken: tuple[str, ...] = ()) -> Iterator[str]:
    """1, 2, 3, ...: the numbers of list items, skipping reserved keys (0, 00, 98)."""
    n = 0
    while True:
        n += 1
        key = str(n)
        if key not in RESERVED and key not in taken:
            if count <= 0:
                return
            count -= 1
            yield key


def visible_options(screen: Screen, view: View) -> list[Option]:
    return [o for o in screen.options if o.when is None or o.when in view.flags]


def choices(screen: Screen, view: View) -> dict[str, Option | Item]:
    """What each key typed on this screen selects: visible options, then numbered items."""
    found: dict[str, Option | Item] = {o.key: o for o in visible_options(screen, view)}
    selectable = [item for item in view.items if item.value is not None]
    taken = tuple(found)
    found.update(zip(item_keys(len(selectable), taken), selectable, strict=True))
    return found


@dataclass(frozen=True)
class Nav:
    """Which navigation keys this screen offers right now."""

    back: bool
    home: bool


def screen_pages(
    screen: Screen, view: View, t: Translator, budget: int, nav: Nav, strict: bool = False
) -> list[str]:
    """Every page of a screen, navigation lines included; `END` screens have one page."""
    head = [clean(line, strict) for line in t(screen.text, **view.params).split("\n")]
    head += _option_lines(screen, view, t, strict)
    keys = {id(item): key for key, item in choices(screen, view).items()}
    lines = [
        clean(f"{keys[id(item)]} {item.text}" if id(item) in keys else item.text, strict)
        for item in view.items
    ]
    if screen.kind == "end":
        return [_fit("\n".join(head + lines), budget, strict)]
    tail = _nav_line(t, nav, strict)
    more = clean(t("nav_more"), strict)
    room = budget if screen.dense else budget - ERROR_MAX - 1
    pages = paginate(head, lines, tail, more, room)
    return [_fit(page, room, strict) for page in pages]


def bare_page(screen: Screen, view: View, t: Translator, nav: Nav, strict: bool = False) -> str:
    """What a dense screen shows under an error line: its options and navigation only (its
    text fills the budget and was read on the previous hop)."""
    return "\n".join(_option_lines(screen, view, t, strict) + _nav_line(t, nav, strict))


def _option_lines(screen: Screen, view: View, t: Translator, strict: bool) -> list[str]:
    return [clean(f"{o.key} {t(o.label_key)}", strict) for o in visible_options(screen, view)]


def with_error(page: str, error: str | None, budget: int) -> str:
    """The page with a short error line on top (re-prompt); pages keep room for it."""
    if not error:
        return page
    return _fit(clean(error)[:ERROR_MAX] + "\n" + page, budget, False)


def paginate(head: list[str], items: list[str], tail: list[str], more: str, room: int) -> list[str]:
    """Greedy pages: the head on the first page, the navigation line on each, `98` on all
    but the last. A line too long for any page still gets one (the validator reports it)."""
    pages: list[str] = []
    current, i = list(head), 0
    while True:
        if i >= len(items) or _size(current + items[i:] + tail) <= room:
            pages.append("\n".join(current + items[i:] + tail))
            return pages
        n = 0
        while i + n < len(items) and _size([*current, *items[i : i + n + 1], more, *tail]) <= room:
            n += 1
        if n == 0 and not current:
            n = 1
        if i + n >= len(items) and n:  # the rest only fits without `98`: cannot happen twice
            pages.append("\n".join(current + items[i:] + tail))
            return pages
        pages.append("\n".join([*current, *items[i : i + n], more, *tail]))
        current, i = [], i + n


def _nav_line(t: Translator, nav: Nav, strict: bool) -> list[str]:
    parts = [t("nav_back")] if nav.back else []
    parts += [t("nav_home")] if nav.home else []
    return [clean(" ".join(parts), strict)] if parts else []


def _size(lines: list[str]) -> int:
    return len("\n".join(lines))


def _fit(text: str, budget: int, strict: bool) -> str:
    if len(text) <= budget:
        return text
    if strict:
        raise RenderError(f"{len(text)} characters for a budget of {budget}: {text!r}")
    return text[:budget]  # never send more than the network shows


def short_name(full_name: str, limit: int = 20) -> str:
    """`Aminata O.`: given name and initial, for list lines where a family reads its own."""
    parts = full_name.split()
    if not parts:
        return "-"
    short = parts[0] if len(parts) == 1 else f"{parts[0]} {parts[1][0]}."
    return short[:limit]


def full_name(name: str) -> str:
    return " ".join(name.split())[:NAME_MAX]
