"""Member dialogues (ussd.md menu map) through the HTTP handler: one and several households,
coverage (D12) with pagination, payments and credit, reminders (D18), language, navigation keys
and re-prompts. Every reply is checked by tests.support.dialogue (200, CON/END, budget, GSM-7)."""

from __future__ import annotations

import datetime as dt

from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from gateway.clock import FixedClock
from gateway.models import Household, Mutual
from gateway.services.coverage.allocation import receive_payment
from tests.support import dialogue
from tests.support.dialogue import Phone
from tests.support.factories import add_beneficiary, make_household, make_mutual

PHONE = "+22670123412"
NAMES = (
    "Ousmane Ouedraogo",
    "Awa Sawadogo",
    "Issa Ouedraogo",
    "Mariam Ouedraogo",
    "Seydou Ouedraogo",
    "Fatoumata Ouedraogo",
    "Boukary Ouedraogo",
)

# The dialogue fixtures (an app on the test database and Redis, its client).
ussd_app, client = dialogue.ussd_app, dialogue.client


def family(db: Session, mutual: Mutual, members: int = 1, phone: str = PHONE) -> Household:
    household = make_household(db, mutual, members=members, phone=phone)
    for beneficiary, name in zip(household.beneficiaries, NAMES, strict=False):
        beneficiary.full_name = name
    db.flush()
    return household


def pay(
    db: Session, household: Household, amount: int, day: dt.date, channel: str = "cash"
) -> None:
    reference = f"P-{household.number}-{day.isoformat()}-{amount}"
    receive_payment(
        db, household=household, amount=amount, paid_on=day, channel=channel, reference=reference
    )


def fresh(factory: sessionmaker[Session], household_id: int) -> Household:
    """The household as committed (a short session: SQLite keeps no lock afterwards)."""
    with factory() as session:
        household = session.get(Household, household_id)
        assert household is not None
        return household


def test_one_household_gets_the_member_menu(db: Session, client: FlaskClient) -> None:
    """ussd.md: a phone linked to one household gets the member menu, options 1-5."""
    household = family(db, make_mutual(db))
    db.commit()
    reply = Phone(client, PHONE).dial()
    assert reply.con
    assert reply.lines == [
        f"Menage {household.number}",
        "1 Ma couverture",
        "2 Payer ma cotisation",
        "3 Mes paiements",
        "4 Rappels SMS",
        "5 Langue",
    ]


def test_phone_with_a_space_instead_of_plus(db: Session, client: FlaskClient) -> None:
    """ussd.md: a `+` that arrives as a space still parses."""
    household = family(db, make_mutual(db))
    db.commit()
    reply = Phone(client, " 22670123412").dial()
    assert f"Menage {household.number}" in reply


def test_several_households_choose_first(db: Session, client: FlaskClient) -> None:
    """ussd.md: `1 H-0001 Ouedraogo`; 0 goes back to the list, 00 to the chosen menu."""
    mutual = make_mutual(db)
    first = family(db, mutual)
    second = make_household(db, mutual, phone=PHONE)
    second.beneficiaries[0].full_name = "Rasmata Zongo"
    second.language = "en"
    db.commit()
    phone = Phone(client, PHONE)
    reply = phone.dial()
    assert reply.lines == [
        "Choisissez le menage:",
        f"1 {first.number} Ouedraogo",
        f"2 {second.number} Zongo",
    ]
    reply = phone.send("2")
    assert reply.lines[0] == f"Household {second.number}"  # the household's language
    assert reply.lines[-1] == "0 Back"
    assert phone.send("0").lines[1] == f"1 {first.number} Ouedraogo"
    reply = phone.send("1")
    assert reply.lines[0] == f"Menage {first.number}"
    assert phone.send("3").con
    assert phone.send("00").lines[0] == f"Menage {first.number}"


def test_coverage_up_to_date(db: Session, client: FlaskClient, clock: FixedClock) -> None:
    """D12: "A JOUR" with the date, then each beneficiary with status and date."""
    household = family(db, make_mutual(db), members=2)
    pay(db, household, 12000, dt.date(2026, 1, 10))
    db.commit()
    clock.at = dt.datetime(2026, 6, 1, 9, tzinfo=dt.UTC)
    reply = Phone(client, PHONE).walk("1")
    assert reply.lines == [
        "A JOUR jusqu'au 31/12/2026",
        "Ousmane O.: couvert au 31/12/2026",
        "Awa S.: couvert au 31/12/2026",
        "0 Retour 00 Accueil",
    ]


def test_coverage_of_seven_members_paginates(
    db: Session, client: FlaskClient, clock: FixedClock
) -> None:
    """D12 + ussd.md pagination: 7 beneficiaries over several pages, each within 160, `98`
    on all but the last, `0` goes back a page, `00` to the menu."""
    household = family(db, make_mutual(db), members=7)
    pay(db, household, 42000, dt.date(2026, 1, 10))
    db.commit()
    clock.at = dt.datetime(2026, 2, 1, 9, tzinfo=dt.UTC)
    phone = Phone(client, PHONE)
    phone.walk("1")
    pages = phone.pages()
    assert len(pages) > 1
    # D12: paid on 10/01, waiting 60 days: paid, covered from 11/03 (never "not up to date")
    assert pages[0].lines[0] == "PAYE, couvert des le 11/03/2026"
    listed = [line for page in pages for line in page.lines if ": couvert" in line]
    assert [line.split(":")[0] for line in listed] == [
        "Ousmane O.",
        "Awa S.",
        "Issa O.",
        "Mariam O.",
        "Seydou O.",
        "Fatoumata O.",
        "Boukary O.",
    ]
    assert all(line.endswith("couvert des le 11/03/2026") for line in listed)  # D9 waiting
    assert all(page.lines[-2] == "98 Suite" for page in pages[:-1])
    assert "98 Suite" not in pages[-1]
    assert phone.send("0") == pages[-2]
    assert phone.send("00").lines[0] == f"Menage {household.number}"


def test_coverage_not_up_to_date_shows_amount_due(
    db: Session, client: FlaskClient, clock: FixedClock
) -> None:
    """D12/D6: who is not covered and the amount due."""
    family(db, make_mutual(db), members=2)
    db.commit()
    clock.at = dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC)
    reply = Phone(client, PHONE).walk("1")
    assert reply.lines[:4] == [
        "PAS A JOUR",
        "Cotisation 2026: 12 000 FCFA",
        "Ousmane O.: non couvert",
        "Awa S.: non couvert",
    ]


def test_pay_shows_the_amount_due(db: Session, client: FlaskClient, clock: FixedClock) -> None:
    """Option 2 starts with the amount due (D6); the whole flow is in test_payments_ussd."""
    family(db, make_mutual(db), members=3)
    db.commit()
    clock.at = dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC)
    reply = Phone(client, PHONE).walk("2")
    assert reply.con
    assert reply.lines[:4] == [
        "PAS A JOUR",
        "Cotisation 2026: 18 000 FCFA",
        "1 Payer ce montant",
        "2 Autre montant",
    ]


def test_payments_list_and_credit(db: Session, client: FlaskClient, clock: FixedClock) -> None:
    """Option 3: last payments (date, amount, channel), newest first, and the credit."""
    household = family(db, make_mutual(db))
    pay(db, household, 6000, dt.date(2026, 1, 10), "mobile")
    pay(db, household, 2500, dt.date(2026, 3, 2), "cash")
    db.commit()
    clock.at = dt.datetime(2026, 3, 5, 9, tzinfo=dt.UTC)
    reply = Phone(client, PHONE).walk("3")
    assert reply.lines == [
        "Derniers paiements",
        "Avoir: 2 500 FCFA",
        "02/03/2026 2 500 FCFA especes",
        "10/01/2026 6 000 FCFA mobile money",
        "0 Retour 00 Accueil",
    ]


def test_payments_none(db: Session, client: FlaskClient) -> None:
    family(db, make_mutual(db))
    db.commit()
    reply = Phone(client, PHONE).walk("3")
    assert reply.lines[1:3] == ["Avoir: 0 FCFA", "Aucun paiement enregistre."]


def test_reminders_off_then_on(
    db: Session, client: FlaskClient, session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    """D18: the state, 2 stops, 1 restarts; the change time is kept."""
    household = family(db, make_mutual(db))
    db.commit()
    phone = Phone(client, PHONE)
    assert phone.walk("4").lines == ["Rappels SMS: actives", "2 Arreter", "0 Retour 00 Accueil"]
    assert phone.send("1").lines[0] == "Choix invalide."  # 1 is only offered when stopped
    reply = phone.send("2")
    assert reply.end and reply.text.startswith("Rappels SMS arretes.")
    stopped = fresh(session_factory, household.id)
    assert not stopped.reminders_enabled
    assert stopped.reminders_changed_at == clock.now()
    clock.advance(hours=1)
    assert phone.walk("4").lines[:2] == ["Rappels SMS: arretes", "1 Activer"]
    assert phone.send("1").text.startswith("Rappels SMS actives.")
    restarted = fresh(session_factory, household.id)
    assert restarted.reminders_enabled and restarted.reminders_changed_at == clock.now()


def test_language_switch_speaks_the_new_language(
    db: Session, client: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    """Option 5: the mutual's languages; the choice is saved and spoken at once."""
    household = family(db, make_mutual(db))
    db.commit()
    phone = Phone(client, PHONE)
    assert phone.walk("5").lines == [
        "Choisissez la langue:",
        "1 Francais",
        "2 English",
        "0 Retour 00 Accueil",
    ]
    reply = phone.send("2")
    assert reply.end and reply.text == "Language saved: English."
    assert fresh(session_factory, household.id).language == "en"
    assert phone.dial().lines[1:3] == ["1 My coverage", "2 Pay my contribution"]
    assert phone.walk("5", "1").text == "Langue enregistree: Francais."


def test_bad_input_reprompts_and_never_ends(db: Session, client: FlaskClient) -> None:
    """ussd.md: a wrong input re-shows the screen with a short error line."""
    household = family(db, make_mutual(db))
    db.commit()
    phone = Phone(client, PHONE)
    menu = phone.dial()
    for wrong in ("9", "", "0", "98", "00", "12345"):
        reply = phone.send(wrong)
        assert reply.con
        assert reply.lines == ["Choix invalide.", *menu.lines], wrong
    assert phone.send("1").con
    assert phone.send("7").lines[0] == "Choix invalide."
    assert phone.send("0").lines[0] == f"Menage {household.number}"


def test_back_and_home_keys(db: Session, client: FlaskClient) -> None:
    """`0` back one screen, `00` to the main menu, from anywhere below it."""
    household = family(db, make_mutual(db))
    db.commit()
    phone = Phone(client, PHONE)
    phone.walk("4")
    assert phone.send("0").lines[0] == f"Menage {household.number}"
    phone.send("5")
    assert phone.send("00").lines[0] == f"Menage {household.number}"


def test_deleted_beneficiary_list_shows_who_left(
    db: Session, client: FlaskClient, clock: FixedClock
) -> None:
    """D11: a removed beneficiary is listed as having left, and owes nothing (D6)."""
    household = family(db, make_mutual(db))
    gone = add_beneficiary(
        db, household, dt.date(2025, 12, 1), status="removed", left_on=dt.date(2026, 5, 1)
    )
    gone.full_name = "Adama Ouedraogo"
    pay(db, household, 12000, dt.date(2026, 1, 5))
    db.commit()
    clock.at = dt.datetime(2026, 6, 1, 9, tzinfo=dt.UTC)
    reply = Phone(client, PHONE).walk("1")
    assert reply.lines[:3] == [
        "A JOUR jusqu'au 31/12/2026",
        "Ousmane O.: couvert au 31/12/2026",
        "Adama O.: sorti",
    ]
