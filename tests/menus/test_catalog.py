"""The menu validator and the catalogs (ussd.md; issue acceptance 1): every screen rendered in
every language with the longest realistic values fits the budget in GSM-7 only, every target
exists and every screen is reachable, every key is in every catalog; and the validator does
catch each kind of mistake. The option numbers of the menu map are the public contract."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import redis

from gateway.app import create_app
from gateway.menus.engine import catalog
from gateway.menus.engine.catalog import LANGUAGES, Translator, messages, placeholders
from gateway.menus.engine.render import Nav, screen_pages
from gateway.menus.engine.screens import Item, Option, Registry, Screen, View
from gateway.menus.engine.validate import MenuError, problems, render_problems
from gateway.menus.journeys import registry
from gateway.settings import Settings
from tests.support.redis_url import redis_url_of


def broken() -> Registry:
    """A private copy of the real registry, to break."""
    reg = registry()
    return Registry(
        screens=dict(reg.screens),
        actions=dict(reg.actions),
        views=dict(reg.views),
        samples=dict(reg.samples),
        checks=dict(reg.checks),
        error_keys=dict(reg.error_keys),
        starts=list(reg.starts),
    )


def test_every_screen_fits_in_every_language() -> None:
    """The real menus pass at the default budget (160, ussd.md)."""
    assert problems(registry(), [160]) == []


def test_every_screen_and_page_is_rendered() -> None:
    """The validator renders each screen with each sample, each page, in each language."""
    reg = registry()
    rendered = 0
    for lang in LANGUAGES:
        t = Translator(lang)
        for screen in reg.screens.values():
            views = reg.samples[screen.view](t) if screen.view else [View()]
            for view in views:
                nav = Nav(screen.back, screen.home)
                pages = screen_pages(screen, view, t, 160, nav, strict=True)
                rendered += len(pages)
    assert rendered > 2 * len(reg.screens)


def test_catalogs_have_the_same_keys_and_placeholders() -> None:
    reference = messages("fr")
    for lang in LANGUAGES:
        table = messages(lang)
        assert set(table) == set(reference), lang
        for key, text in table.items():
            assert placeholders(text) == placeholders(reference[key]), (lang, key)


def test_catalogs_are_written_with_accents_and_shown_without() -> None:
    """Texts keep their French spelling; the phone gets plain GSM-7."""
    assert "é" in messages("fr")["opt_verify"]
    assert Translator("fr")("opt_verify") == "Vérifier un bénéficiaire"


def test_missing_target_and_unreachable_screen_are_reported() -> None:
    reg = broken()
    reg.screens["member_menu"] = Screen(
        "member_menu", "menu", "member_menu", options=(Option("1", "opt_coverage", "nowhere"),)
    )
    found = problems(reg, [160])
    assert "member_menu: target nowhere does not exist" in found
    assert "screen member_payments is unreachable" in found


def test_reserved_keys_are_refused_as_options() -> None:
    reg = broken()
    reg.screens["member_menu"] = Screen(
        "member_menu",
        "menu",
        "member_menu",
        options=(*reg.screens["member_menu"].options, Option("98", "opt_help", "visitor_help")),
    )
    assert "member_menu: option 98 is a reserved key" in problems(reg, [160])


def test_unknown_text_key_is_reported() -> None:
    reg = broken()
    reg.screens["agent_soon"] = Screen("agent_soon", "end", "no_such_text")
    assert "fr: key no_such_text missing" in problems(reg, [160])


def test_overflow_and_non_gsm_values_are_reported() -> None:
    reg = broken()
    reg.samples["agent_menu"] = lambda t: [View({"name": "x" * 150})]
    reg.samples["language_done"] = lambda t: [View({"language": "Mooré ɛ"})]
    found = render_problems(reg, [160])
    assert any("agent_collector" in p and "for a budget of" in p for p in found)
    assert any("member_language_done" in p and "non GSM-7" in p for p in found)


def test_a_dense_screen_fills_the_budget_but_no_more() -> None:
    """The agent's result (D13) uses all 160 characters, no room kept for an error line (its
    re-prompt drops the text); one more character, or a list, is reported."""
    reg = broken()
    t = Translator("fr")
    longest = max(reg.samples["checked"](t), key=lambda v: len(str(v.params["copay"])))
    room = 160 - len("\n".join([*map(str, longest.params.values()), "1 Autre carte", "00 Accueil"]))
    assert room >= 0
    grown = {**longest.params, "copay": str(longest.params["copay"]) + "x" * (room + 1)}
    reg.samples["checked"] = lambda t: [View(grown)]
    found = render_problems(reg, [160])
    assert any("agent_checked" in p and "for a budget of 160" in p for p in found)
    reg.samples["checked"] = lambda t: [View(longest.params, (Item("x"),))]
    assert any("agent_checked" in p and "no list" in p for p in render_problems(reg, [160]))


def test_a_long_list_without_room_per_item_is_reported() -> None:
    reg = broken()
    reg.samples["payments"] = lambda t: [View({"credit": "0"}, (Item("y" * 200),))]
    assert any("member_payments" in p for p in render_problems(reg, [160]))


def test_a_configured_language_without_catalog_is_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Adding a language is a file plus a line: the line without the file is refused."""
    monkeypatch.setitem(catalog.LANGUAGES, "mos", "Moore")
    assert any(p.startswith("mos: catalog unreadable") for p in problems(registry(), [160]))


def test_the_app_refuses_to_start_with_menus_that_do_not_fit(
    database_url: str, redis_client: redis.Redis[bytes], tmp_path: Path
) -> None:
    """The validator runs at start-up: 60 characters per screen cannot hold the menus."""
    settings = Settings.from_env(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url_of(redis_client),
            "GATEWAY_VAR_DIR": str(tmp_path / "var"),
            "GATEWAY_SCREEN_LIMIT": "60",
        }
    )
    with pytest.raises(MenuError, match="for a budget of 60"):
        create_app(settings)


def test_menu_map_option_numbers_are_the_contract() -> None:
    """ussd.md: option numbers are stable; changing one breaks members' habits and docs."""
    screens = registry().screens

    def options(name: str) -> dict[str, str]:
        return {o.key: o.target for o in screens[name].options}

    assert options("member_menu") == {
        "1": "member_coverage",
        "2": "member_pay",
        "3": "member_payments",
        "4": "member_reminders",
        "5": "member_language",
    }
    assert options("member_reminders") == {"1": "member_reminders_on", "2": "member_reminders_off"}
    assert options("visitor_menu") == {"1": "visitor_number", "2": "visitor_help"}
    assert options("agent_collector") == {
        "1": "agent_verify",
        "2": "agent_collect",
        "3": "agent_cash",
        "4": "agent_remit",
        "5": "enrol_name",  # D24: Inscrire un menage (a started draft: its action resumes)
    }
    assert options("agent_supervisor") == {
        "1": "agent_verify",
        "2": "agent_collect",
        "3": "agent_cash",
        "4": "agent_remit_choice",
        "5": "enrol_name",
    }
    assert options("agent_remit_choice") == {"1": "agent_remit", "2": "agent_pending"}
    assert options("agent_facility") == {"1": "agent_verify"}
    assert options("agent_checked") == {"1": "agent_verify"}  # the next card (D13)


def test_registry_is_data() -> None:
    """Screens are frozen values: nothing can change them while the process runs."""
    screen = registry().screens["member_menu"]
    with pytest.raises(AttributeError):
        screen.text = "x"  # type: ignore[misc]  # the frozen write mypy refuses, tried at run time
    assert copy.deepcopy(screen) == screen
