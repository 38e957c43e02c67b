"""Finding a member in a real browser (issue 16): a manager signs in, searches a member by
phone (local form), opens the household and reads on its timeline a USSD session, an SMS
with its delivery status and a payment with its ledger postings, then reveals the phone.
With CONSOLE_SCREENSHOTS=<dir> (`make console-screenshots`) the household page is saved as
console-household.png. Skipped like tests/console/test_browser.py without Chromium."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from gateway.models import Role
from tests.console.conftest import TwoMutuals
from tests.console.test_browser import CHROMIUM, _shot, _sign_in, page, served
from tests.support.console import make_user
from tests.support.household import household_story

__all__ = ["page", "served"]  # the browser fixtures, shared

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="no /usr/bin/chromium: `make browser` (apt-get install -y chromium) runs these tests",
)


def test_a_manager_finds_a_member_by_phone_and_reads_the_timeline(
    db: Session, two: TwoMutuals, served: str, page: Any
) -> None:
    make_user(db, "gerant@ma.bf", Role.MANAGER, two.scope_a, language="fr")
    household_story(
        db, two.a, "+22670112233", number="10001", name="Awa Ouédraogo", section_id=None
    )
    household_story(db, two.b, "+22676445566", number="20001", name="Awa Sawadogo", section_id=None)
    db.commit()
    _sign_in(page, served, "gerant@ma.bf")
    page.wait_for_selector("#amount")
    page.click("nav >> text=Membres")
    page.fill("input[name=q]", "70 11 22 33")
    page.click("form.search button")
    page.wait_for_selector("#results")
    assert page.locator("tr.result").count() == 1
    page.click("tr.result a")
    page.wait_for_selector("#timeline")
    assert page.inner_text("h1") == "Ménage 10001"
    assert "+22670****33" in page.inner_text("#phones")
    session = page.locator("li.event.session")
    assert session.count() == 1 and session.locator("li.hop").count() == 2
    assert "member_pay" in session.inner_text()
    sms = page.locator("li.event.sms", has_text="Recu 2000 XOF")
    assert "DELIVERED" in sms.inner_text()
    payment = page.locator("li.event.intent")
    assert "SUCCEEDED" in payment.inner_text() and "SUCCESSFUL" in payment.inner_text()
    assert payment.locator("tr.posting").count() >= 2  # the receipt's debit and credit
    _shot(page, "household")
    page.click("#phones button")
    page.wait_for_selector("#timeline")
    assert "+22670112233" in page.inner_text("#phones")
