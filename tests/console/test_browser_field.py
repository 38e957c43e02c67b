"""The field pages in a real browser (issue 16, acceptance 1): a manager assigns a
reconciliation exception above the approval threshold and sees it wait for a second person;
a manager unlocks an agent. Debian's Chromium driven by Playwright, as tests/console/
test_browser.py (skipped, saying why, without /usr/bin/chromium)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import Agent, OperatorAction, Role
from gateway.services.agents import add_agent
from gateway.services.agents.registry import LOCK_FOR
from gateway.services.payments import effects
from tests.console.conftest import TwoMutuals
from tests.support.browser import needs_chromium, shot, sign_in_page
from tests.support.console import NOW, make_user
from tests.support.factories import make_household

pytestmark = needs_chromium


def _sign_in(page: Any, url: str, login: str) -> None:
    sign_in_page(page, url, login)
    page.wait_for_selector("#amount")


def test_a_manager_assigns_a_large_exception_and_it_waits(
    db: Session, two: TwoMutuals, served: str, page: Any
) -> None:
    two.a.payment_settings = {"approval_threshold": 10_000}
    make_household(db, two.a, number="A-1")
    item = effects.to_suspense(
        db,
        provider="sandbox",
        provider_txn_id="TX-L",
        amount=25_000,
        now=NOW,
        reason="unknown_reference",
    )
    item.mutual_id = two.a.id
    make_user(db, "gerant@ma.bf", Role.MANAGER, two.scope_a, language="en")
    db.commit()
    _sign_in(page, served, "gerant@ma.bf")
    page.click("nav >> text=Reconciliation")
    row = page.locator(f"#suspense-{item.id}")
    row.locator("form.assign input[name=household]").fill("A-1")
    row.locator("form.assign input[name=reason]").fill("paid with a neighbour's phone")
    row.locator("form.assign button").click()
    page.wait_for_selector(".flash.ok")
    assert "waits for a second person's approval" in page.inner_text(".flash.ok")
    waiting = page.locator("#pending tr.approval")
    assert waiting.count() == 1 and "gerant@ma.bf" in waiting.inner_text()
    shot(page, "reconciliation")
    # The same manager tries to approve: refused, it still waits.
    waiting.locator("input[name=reason]").fill("looks right")
    waiting.locator("button").click()
    page.wait_for_selector(".flash.error")
    assert "another person must approve it" in page.inner_text(".flash.error")
    assert page.locator("#pending tr.approval").count() == 1
    assert page.locator(f"#suspense-{item.id}").count() == 1  # still open


def test_a_manager_unlocks_an_agent(db: Session, two: TwoMutuals, served: str, page: Any) -> None:
    agent = add_agent(db, two.a, phone="70000001", name="Ali Kaboré", role="collector", pin="2580")
    agent.failed_tries, agent.locked_until = 3, NOW + LOCK_FOR
    make_user(db, "gerant@ma.bf", Role.MANAGER, two.scope_a, language="fr")
    db.commit()
    agent_id = agent.id
    _sign_in(page, served, "gerant@ma.bf")
    page.click("nav >> text=Agents")
    row = page.locator(f"#agent-{agent_id}")
    assert "bloqué" in row.locator(".state").inner_text()
    shot(page, "agents")
    row.locator("form.unlock button").click()
    page.wait_for_selector(".flash.ok")
    assert "actif" in page.locator(f"#agent-{agent_id} .state").inner_text()
    assert page.locator(f"#agent-{agent_id} form.unlock").count() == 0
    db.expire_all()
    unlocked = db.get_one(Agent, agent_id)
    assert (unlocked.failed_tries, unlocked.locked_until) == (0, None)
    rows = db.scalars(select(OperatorAction.action)).all()
    assert rows == ["user.add", "agent.unlock"]
    db.rollback()


def test_a_manager_enrols_a_household_from_the_console(
    db: Session, two: TwoMutuals, served: str, page: Any
) -> None:
    make_user(db, "gerant@ma.bf", Role.MANAGER, two.scope_a, language="fr")
    db.commit()
    _sign_in(page, served, "gerant@ma.bf")
    page.click("nav >> text=Inscriptions")
    page.click("#enrol-new")
    form = page.locator("#enrol")
    form.locator("select[name=section]").select_option(label="MA · Nord")
    form.locator("input[name=name]").fill("Awa Ouédraogo")
    form.locator("select[name=sex]").select_option("F")
    form.locator("input[name=year]").fill("85")  # refused: four digits
    form.locator("input[name=phone]").fill("70 11 22 33")
    form.locator("input[name='dependants-0-name']").fill("Ali Ouédraogo")
    form.locator("select[name='dependants-0-sex']").select_option("M")
    form.locator("input[name='dependants-0-year']").fill("2015")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("#error-year")
    assert page.locator("#enrol input[name='dependants-0-name']").input_value() == "Ali Ouédraogo"
    shot(page, "enrolment-new")  # the refusal shown beside its field, the typed values kept
    page.locator("#enrol input[name=year]").fill("1985")
    page.locator("#enrol button[type=submit]").click()
    page.wait_for_selector(".flash.ok")
    assert "Ménage 900000019 inscrit" in page.inner_text(".flash.ok")
    assert db.scalars(select(OperatorAction.action)).all() == ["user.add", "enrolment.create"]
    db.rollback()
