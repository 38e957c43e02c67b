"""The console in a real browser (issue 16): Debian's Chromium driven by Playwright, against the
app served over HTTP. A manager signs in and sees the home page; a finance officer signs in
with a TOTP code; a manager finds a member by phone and reads the household's timeline. With
CONSOLE_SCREENSHOTS=<dir> (`make console-screenshots`) the login and home
pages are saved there as PNGs. Skipped, saying why, when /usr/bin/chromium is missing
(`make browser` installs it)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from gateway.models import Alert, OutboxMessage, OutboxStatus, Payment, Role
from gateway.services.coverage import receive_payment
from gateway.services.operators import code_at
from tests.console.conftest import TwoMutuals
from tests.support.browser import needs_chromium, shot, sign_in_page
from tests.support.console import NOW, make_user
from tests.support.factories import make_household
from tests.support.household import household_story

pytestmark = needs_chromium


def _day_of_mutual_a(db: Session, two: TwoMutuals) -> None:
    """Some of today's activity in mutual A, and more in B that A's manager must not see."""
    for n, (mutual, amount) in enumerate([(two.a, 6000), (two.a, 12000), (two.b, 99000)]):
        household = make_household(db, mutual, phone=f"+2267011223{n}")
        db.add(
            Payment(
                mutual_id=mutual.id,
                household_id=household.id,
                amount=amount,
                paid_on=NOW.date(),
                channel="mobile",
                reference=f"r{n}",
                ledger_key=f"r{n}",
            )
        )
        db.add(
            OutboxMessage(
                mutual_id=mutual.id,
                household_id=household.id,
                phone="+22670000000",
                template="receipt",
                language="fr",
                text="...",
                reason="receipt",
                status=OutboxStatus.DELIVERED if n else OutboxStatus.FAILED,
                created_at=NOW,
            )
        )
    db.add(Alert(mutual_id=two.a.id, kind="sms_balance", subject="sms", dedupe_key="x"))
    db.flush()


def test_a_manager_signs_in_and_sees_the_day(
    db: Session, two: TwoMutuals, served: str, page: Any
) -> None:
    make_user(db, "gerant@ma.bf", Role.MANAGER, two.scope_a, language="fr")
    _day_of_mutual_a(db, two)
    db.commit()
    page.goto(f"{served}/console/")
    assert page.url.endswith("/console/login?next=/console/?")
    shot(page, "login")
    sign_in_page(page, served, "gerant@ma.bf")
    page.wait_for_selector("#amount")
    assert page.inner_text("h1") == "Aujourd'hui"
    assert page.inner_text("#amount") == "18 000 XOF"  # not B's 99 000
    assert page.inner_text("#sms-failed") == "1" and page.inner_text("#alerts") == "1"
    shot(page, "home")


def test_finance_signs_in_with_a_totp_code(
    db: Session, two: TwoMutuals, served: str, page: Any
) -> None:
    user = make_user(db, "tresor@ma.bf", Role.FINANCE, two.scope_a, totp=True, language="en")
    secret = user.totp_secret or ""
    db.commit()
    sign_in_page(page, served, "tresor@ma.bf")
    page.wait_for_selector("input[name=code]")
    page.fill("input[name=code]", code_at(secret, NOW))
    page.click("#code button[type=submit]")
    page.wait_for_selector("#amount")
    assert page.inner_text("h1") == "Today"
    assert "tresor@ma.bf · finance" in page.inner_text(".who")


def test_an_admin_adds_and_deactivates_a_user(
    db: Session, two: TwoMutuals, served: str, page: Any
) -> None:
    make_user(db, "admin@ma.bf", Role.ADMIN, two.scope_a, language="fr")
    db.commit()
    sign_in_page(page, served, "admin@ma.bf")
    page.wait_for_selector("#amount")
    page.goto(f"{served}/console/users")
    form = page.locator("#new-user")
    form.locator("input[name=login]").fill("+22670112233")
    form.locator("input[name=name]").fill("Awa Ouédraogo")
    form.locator("select[name=role]").select_option("manager")
    form.locator("input[name=scope]").fill("section:MA/Nord")
    form.locator("input[name=password]").fill("a long password")
    form.locator("button[type=submit]").click()
    page.wait_for_selector(".flash.ok")
    row = page.locator("tr", has_text="+22670112233")
    row.locator("input[name=reason]").fill("a parti")
    row.locator("button", has_text="Désactiver").click()
    page.wait_for_selector(".flash.ok")
    assert "désactivé" in page.locator("tr", has_text="+22670112233").inner_text()
    shot(page, "users")
    page.goto(f"{served}/console/audit")
    assert page.locator("tr.action").count() == 3  # admin and user added, user deactivated
    assert "a parti" in page.inner_text("table")
    shot(page, "audit")


def test_a_manager_resolves_an_alert(db: Session, two: TwoMutuals, served: str, page: Any) -> None:
    make_user(db, "gerant@ma.bf", Role.MANAGER, two.scope_a, language="fr")
    db.add(
        Alert(
            mutual_id=two.a.id,
            kind="sms_balance",
            subject="sms",
            detail="SMS balance low",
            dedupe_key="sms-balance",
            created_at=NOW,
        )
    )
    db.add(
        Alert(mutual_id=two.b.id, kind="agent_cash", subject="b", dedupe_key="b", created_at=NOW)
    )
    db.commit()
    sign_in_page(page, served, "gerant@ma.bf")
    page.wait_for_selector("#amount")
    page.click("nav >> text=Alertes")
    row = page.locator("tr.alert")
    assert row.count() == 1 and "SMS balance low" in row.inner_text()  # not B's
    shot(page, "alerts")
    row.locator("input[name=reason]").fill("compte SMS rechargé")
    row.locator("button", has_text="Résoudre").click()
    page.wait_for_selector(".flash.ok")
    assert page.locator("tr.alert").count() == 0
    page.goto(f"{served}/console/alerts?status=resolved")
    assert "résolue" in page.inner_text("tr.alert")
    page.goto(f"{served}/console/audit")
    assert "alert.resolve" in page.inner_text("table") and "compte SMS rechargé" in page.inner_text(
        "table"
    )


def test_finance_releases_a_held_payment(
    db: Session, two: TwoMutuals, served: str, page: Any
) -> None:
    user = make_user(db, "tresor@ma.bf", Role.FINANCE, two.scope_a, totp=True, language="en")
    secret = user.totp_secret or ""
    household = make_household(db, two.a, number="A-7")
    receive_payment(
        db,
        household=household,
        amount=500_000,
        paid_on=NOW.date(),
        channel="cash",
        reference="BIG-7",
        now=NOW,
    )
    db.commit()
    sign_in_page(page, served, "tresor@ma.bf")
    page.wait_for_selector("input[name=code]")
    page.fill("input[name=code]", code_at(secret, NOW))
    page.click("#code button[type=submit]")
    page.wait_for_selector("#amount")
    page.click("nav >> text=Payments")
    row = page.locator("#held tr.held", has_text="BIG-7")
    assert "A-7" in row.inner_text()
    shot(page, "payments")
    row.locator("input[name=reason]").fill("harvest savings, checked with the head")
    row.locator("button", has_text="Release").click()
    page.wait_for_selector(".flash.ok")
    assert "Payment BIG-7 released" in page.inner_text(".flash.ok")
    assert page.locator("#held").count() == 0
    page.goto(f"{served}/console/audit")
    assert "payment.release" in page.inner_text("table")


# --- finding a member (issue 16): the household page is saved as console-household.png ---


def test_a_manager_finds_a_member_by_phone_and_reads_the_timeline(
    db: Session, two: TwoMutuals, served: str, page: Any
) -> None:
    make_user(db, "gerant@ma.bf", Role.MANAGER, two.scope_a, language="fr")
    household_story(
        db, two.a, "+22670112233", number="10001", name="Awa Ouédraogo", section_id=None
    )
    household_story(db, two.b, "+22676445566", number="20001", name="Awa Sawadogo", section_id=None)
    db.commit()
    sign_in_page(page, served, "gerant@ma.bf")
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
    shot(page, "household")
    page.click("#phones button")
    page.wait_for_selector("#timeline")
    assert "+22670112233" in page.inner_text("#phones")
