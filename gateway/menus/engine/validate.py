"""The menu validator (ussd.md): run at start-up (the USSD blueprint refuses to register on a
problem) and in tests. It checks that every target exists, every screen is reachable from a
start, every text key is in every catalog with the same placeholders, no option uses a reserved
key, and every screen, rendered in every language with the longest realistic values
(menus.samples) and with an error line, fits every screen budget in GSM-7 only."""

from __future__ import annotations

import string
from collections.abc import Iterable
from functools import cache

from gateway.menus.engine.catalog import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    Translator,
    messages,
    placeholders,
)
from gateway.menus.engine.render import (
    ERROR_MAX,
    Nav,
    RenderError,
    bare_page,
    clean,
    screen_pages,
)
from gateway.menus.engine.screens import RESERVED, Registry, Screen, View

NAV_KEYS = ("nav_back", "nav_home", "nav_more", "err_choice", "apology", "amount")
ERROR_SAMPLE = {"tries": 9}


class MenuError(ValueError):
    """The menus or catalogs are inconsistent; every problem is listed, one per line."""

    def __init__(self, found: list[str]) -> None:
        self.problems = found
        super().__init__("USSD menus are invalid:\n" + "\n".join(f"- {p}" for p in found))


def problems(reg: Registry, budgets: Iterable[int]) -> list[str]:
    """Every problem found; rendering is only tried once the graph and catalogs are sound."""
    found = graph_problems(reg) + catalog_problems(reg)
    if not found:
        found = render_problems(reg, sorted(set(budgets)))
    return found


@cache
def check_menus(budgets: frozenset[int]) -> None:
    """Start-up check, once per process and set of budgets."""
    from gateway.menus.journeys import registry

    found = problems(registry(), budgets)
    if found:
        raise MenuError(found)


# --- graph --------------------------------------------------------------------------------


def _targets(screen: Screen) -> list[str]:
    found = [o.target for o in screen.options] + list(screen.exits)
    return found + ([screen.next] if screen.next else [])


def graph_problems(reg: Registry) -> list[str]:
    found = [f"start screen {s} is not declared" for s in reg.starts if s not in reg.screens]
    for screen in reg.screens.values():
        found += _screen_problems(reg, screen)
    seen: set[str] = set()
    todo = [s for s in reg.starts if s in reg.screens]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += [t for t in _targets(reg.screens[name]) if t in reg.screens]
    found += [f"screen {name} is unreachable" for name in sorted(set(reg.screens) - seen)]
    return found


def _screen_problems(reg: Registry, screen: Screen) -> list[str]:
    name = screen.name
    found = [f"{name}: target {t} does not exist" for t in _targets(screen) if t not in reg.screens]
    keys = [o.key for o in screen.options]
    found += [f"{name}: option {k} is a reserved key" for k in keys if k in RESERVED]
    if len(set(keys)) != len(keys):
        found.append(f"{name}: option keys repeat")
    if screen.action and screen.action not in reg.actions:
        found.append(f"{name}: action {screen.action} is not registered")
    if screen.view and (screen.view not in reg.views or screen.view not in reg.samples):
        found.append(f"{name}: view {screen.view} has no function or no sample")
    if screen.kind == "input" and (
        screen.validator not in reg.checks or not (screen.next or screen.action)
    ):
        found.append(f"{name}: an input screen needs a validator and a next screen or action")
    if screen.kind == "end" and (screen.options or screen.action):
        found.append(f"{name}: an end screen has neither options nor action")
    if screen.kind == "menu" and not screen.options and not screen.view:
        found.append(f"{name}: a menu needs options or a view")
    return found


# --- catalogs -----------------------------------------------------------------------------


def used_keys(reg: Registry) -> set[str]:
    keys = set(NAV_KEYS) | set(reg.error_keys.values())
    for screen in reg.screens.values():
        keys |= {screen.text, *(o.label_key for o in screen.options)}
    return keys


def catalog_problems(reg: Registry) -> list[str]:
    reference = messages(DEFAULT_LANGUAGE)
    found = [
        f"{DEFAULT_LANGUAGE}: key {k} missing" for k in sorted(used_keys(reg) - set(reference))
    ]
    for lang in LANGUAGES:
        try:
            table = messages(lang)
        except (OSError, ValueError) as exc:
            found.append(f"{lang}: catalog unreadable: {exc}")
            continue
        found += [f"{lang}: key {k} missing" for k in sorted(set(reference) - set(table))]
        found += [
            f"{lang}: key {k} unknown in {DEFAULT_LANGUAGE}" for k in set(table) - set(reference)
        ]
        for key in sorted(set(reference) & set(table)):
            if placeholders(reference[key]) != placeholders(table[key]):
                found.append(f"{lang}: {key} placeholders differ from {DEFAULT_LANGUAGE}")
            found += _text_problems(lang, key, table[key])
    return found


def _text_problems(lang: str, key: str, text: str) -> list[str]:
    literal = "".join(part for part, *_ in string.Formatter().parse(text))
    try:
        clean(literal, strict=True)
    except RenderError as exc:
        return [f"{lang}: {key}: {exc}"]
    if key.startswith("err_"):
        shown = clean(text.format(**ERROR_SAMPLE))
        if len(shown) > ERROR_MAX:
            return [f"{lang}: {key} longer than {ERROR_MAX} characters: {shown!r}"]
    return []


# --- rendering ----------------------------------------------------------------------------


def render_problems(reg: Registry, budgets: list[int]) -> list[str]:
    found: list[str] = []
    for lang in LANGUAGES:
        t = Translator(lang)
        error = _longest_error(t)
        for budget in budgets:
            if len(clean(t("apology"))) > budget:
                found.append(f"{lang}: the apology does not fit {budget} characters")
            for screen in reg.screens.values():
                for view in _sample_views(reg, screen, t):
                    found += _render_one(screen, view, t, budget, error)
    return sorted(set(found))


def _sample_views(reg: Registry, screen: Screen, t: Translator) -> list[View]:
    if screen.view is None:
        return [View()]
    return reg.samples[screen.view](t)


def _render_one(screen: Screen, view: View, t: Translator, budget: int, error: str) -> list[str]:
    where = f"{t.lang}/{budget}: {screen.name}"
    nav = Nav(back=screen.back, home=screen.home)
    try:
        pages = screen_pages(screen, view, t, budget, nav, strict=True)
    except RenderError as exc:
        return [f"{where}: {exc}"]
    except (KeyError, IndexError, ValueError) as exc:
        return [f"{where}: cannot render: {exc!r}"]
    if screen.dense and view.items:
        return [f"{where}: a dense screen shows no list"]
    if screen.dense:
        pages = [bare_page(screen, view, t, nav, strict=True)]
    if screen.kind != "end" and any(not _error_fits(p, error, budget) for p in pages):
        return [f"{where}: no room left for an error line"]
    return []


def _error_fits(page: str, error: str, budget: int) -> bool:
    """The page under the longest error line (render.with_error) within the budget."""
    return len(clean(error)[:ERROR_MAX]) + 1 + len(page) <= budget


def _longest_error(t: Translator) -> str:
    texts = [t(k, **ERROR_SAMPLE) for k in messages(t.lang) if k.startswith("err_")]
    return max(texts, key=lambda s: len(clean(s)))
