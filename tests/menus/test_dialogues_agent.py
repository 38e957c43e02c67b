"""Agent and visitor dialogues through the HTTP handler: PIN and lock-out (D19), beneficiary
checks for facility staff and collectors (D13), several cards in one session, the visitor's
check and help, unknown and ambiguous numbers (ussd.md)."""

from __future__ import annotations

import datetime as dt
import re

import redis
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from gateway.clock import FixedClock
from gateway.models import Agent, Beneficiary, Mutual
from gateway.services.agents.registry import add_agent
from gateway.services.coverage.allocation import receive_payment
from tests.support import dialogue
from tests.support.dialogue import Phone
from tests.support.factories import add_beneficiary, make_household, make_mutual

AGENT_PHONE = "+22670000002"
VISITOR_PHONE = "+22665000000"
PIN = "1470"
T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)

# The dialogue fixtures (an app on the test database and Redis, its client).
ussd_app, client = dialogue.ussd_app, dialogue.client


def covered_member(db: Session, mutual: Mutual) -> Beneficiary:
    """A beneficiary covered through 2026 (D11), with a name, a sex and a birth year."""
    household = make_household(db, mutual, members=1)
    person = household.beneficiaries[0]
    person.full_name, person.sex, person.birth_date = "Awa Sawadogo", "F", dt.date(1988, 4, 2)
    receive_payment(
        db,
        household=household,
        amount=6000,
        paid_on=dt.date(2026, 1, 10),
        channel="cash",
        reference=f"P-{household.number}",
    )
    return person


def agent(db: Session, mutual: Mutual, role: str, phone: str = AGENT_PHONE) -> Agent:
    return add_agent(db, mutual, phone=phone, name="Infirmier Reo", role=role, pin=PIN)


def setup(db: Session, clock: FixedClock, role: str = "facility") -> tuple[Mutual, Beneficiary]:
    mutual = make_mutual(db, copay={"csps": 10, "chr": 30})
    mutual.contact = "Mutuelle: 70 00 00 09"
    person = covered_member(db, mutual)
    agent(db, mutual, role)
    db.commit()
    clock.at = T0
    return mutual, person


def test_facility_agent_verifies_a_beneficiary(
    db: Session, client: FlaskClient, clock: FixedClock, redis_client: redis.Redis[bytes]
) -> None:
    """D19 then D13: name, sex, year of birth, status with date, co-payment; no payments."""
    _, person = setup(db, clock)
    phone = Phone(client, AGENT_PHONE)
    assert phone.dial().lines == ["Entrez votre code PIN agent:"]
    menu = phone.send(PIN)
    assert menu.lines == ["Agent: Infirmier R.", "1 Verifier un beneficiaire"]
    assert phone.send("1").lines == ["Numero du beneficiaire (carte):", "0 Retour 00 Accueil"]
    reply = phone.send(person.number)
    assert reply.con  # the next card may follow (see test_facility_agent_checks_several_cards)
    assert reply.lines == [
        "Awa Sawadogo",
        "Femme, nee en 1988",
        "COUVERT jusqu'au 31/12/2026",
        "TM: CSPS 10% CHR 30%",
        "1 Autre carte",
        "00 Accueil",
    ]
    assert "6 000" not in reply and "FCFA" not in reply  # D13: nothing about payments
    stored = b"".join(redis_client.get(k) or b"" for k in redis_client.keys("ussd:*"))
    # The session keeps digests of texts, never a PIN; a hex digest may contain the PIN's
    # digits by chance, so digests are cut out before looking for it.
    assert re.search(rb"[0-9a-f]{16,}", stored)
    # The card number checked is kept too (its household number comes from the factories'
    # counter, so it may contain the PIN's digits, e.g. 147001): it is cut out as well.
    kept = re.sub(rb"[0-9a-f]{16,}", b"", stored).replace(person.number.encode(), b"")
    assert PIN.encode() not in kept


def waiting_member(db: Session, mutual: Mutual) -> Beneficiary:
    """Paid on 2026-05-04, after the 2026 join window: the money buys 2027, covered after
    60 days of waiting (D9, D11: paid, and waiting)."""
    household = make_household(db, mutual, members=1)
    person = household.beneficiaries[0]
    person.full_name, person.sex, person.birth_date = "Issa Ouedraogo", "M", None
    receive_payment(
        db,
        household=household,
        amount=6000,
        paid_on=dt.date(2026, 5, 4),
        channel="cash",
        reference=f"P-{household.number}",
    )
    return person


def test_facility_agent_checks_several_cards(
    db: Session, client: FlaskClient, clock: FixedClock
) -> None:
    """D13, one card after another in one session: covered; paid and waiting (D12: "PAYE,
    couvert des le"); letters, an unknown number and a wrong choice re-prompt; a child added
    after the household paid, whose share is unpaid (D7): not covered; then 00 home."""
    mutual, covered = setup(db, clock)
    waiting = waiting_member(db, mutual)
    third = add_beneficiary(db, covered.household, dt.date(2026, 5, 2), sex="M")
    third.full_name, third.birth_date = "Moussa Sawadogo", dt.date(2015, 7, 1)
    db.commit()
    phone = Phone(client, AGENT_PHONE)
    phone.walk(PIN, "1")
    first = phone.send(covered.number)
    assert first.con and first.lines[0] == "Awa Sawadogo"
    assert first.lines[-2:] == ["1 Autre carte", "00 Accueil"]
    assert phone.send("1").lines == ["Numero du beneficiaire (carte):", "0 Retour 00 Accueil"]
    second = phone.send(waiting.number)
    assert second.con and second.lines == [
        "Issa Ouedraogo",
        "Homme, ne en ?",
        "PAYE, couvert des le 02/03/2027",
        "TM: CSPS 10% CHR 30%",
        "1 Autre carte",
        "00 Accueil",
    ]
    assert phone.send("7").lines == ["Choix invalide.", "1 Autre carte", "00 Accueil"]
    phone.send("1")
    assert phone.send("12a").lines[0] == "Tapez les chiffres du numero."
    assert phone.send("424242").lines == [
        "Numero inconnu.",
        "Numero du beneficiaire (carte):",
        "0 Retour 00 Accueil",
    ]
    third_reply = phone.send(third.number)
    assert third_reply.con and third_reply.lines[:4] == [
        "Moussa Sawadogo",
        "Homme, ne en 2015",
        "NON COUVERT",
        "TM: CSPS 10% CHR 30%",
    ]
    home = phone.send("00")
    assert home.con and home.lines == ["Agent: Infirmier R.", "1 Verifier un beneficiaire"]
    assert phone.send("1").con  # the session goes on


def test_collector_checks_several_cards_then_collects(
    db: Session, client: FlaskClient, clock: FixedClock
) -> None:
    """Collectors use option 1 the same way; 00 leads back to their own menu, whose
    option 2 (D20) then works in the same session."""
    mutual, covered = setup(db, clock, role="collector")
    waiting = waiting_member(db, mutual)
    db.commit()
    phone = Phone(client, AGENT_PHONE)
    phone.walk(PIN, "1")
    assert phone.send(covered.number).lines[2] == "COUVERT jusqu'au 31/12/2026"
    phone.send("1")
    assert phone.send(waiting.number).lines[2] == "PAYE, couvert des le 02/03/2027"
    menu = phone.send("00")
    assert menu.lines[0] == "Agent: Infirmier R." and "4 Declarer un versement" in menu
    assert phone.send("2").lines[0] == "Numero du menage (ou d'une carte):"


def test_english_result_screen(db: Session, client: FlaskClient, clock: FixedClock) -> None:
    mutual, person = setup(db, clock)
    mutual.languages = ["en", "fr"]
    db.commit()
    reply = Phone(client, AGENT_PHONE).walk(PIN, "1", person.number)
    assert reply.lines == [
        "Awa Sawadogo",
        "Female, born 1988",
        "COVERED until 31/12/2026",
        "Co-pay: CSPS 10% CHR 30%",
        "1 Another card",
        "00 Home",
    ]


def test_collector_menu(db: Session, client: FlaskClient, clock: FixedClock) -> None:
    """Collector: 1 verify, 2-4 cash (D20, D21; dialogues in test_ussd_dialogues_cash), 5
    enrol a household (D24; dialogues in test_dialogues_enrol)."""
    setup(db, clock, role="collector")
    phone = Phone(client, AGENT_PHONE)
    assert phone.walk(PIN).lines == [
        "Agent: Infirmier R.",
        "1 Verifier un beneficiaire",
        "2 Encaisser une cotisation",
        "3 Ma caisse",
        "4 Declarer un versement",
        "5 Inscrire un menage",
    ]


def test_supervisor_gets_the_collector_menu(
    db: Session, client: FlaskClient, clock: FixedClock
) -> None:
    setup(db, clock, role="supervisor")
    assert "4 Declarer un versement" in Phone(client, AGENT_PHONE).walk(PIN)


def test_three_wrong_pins_lock_for_15_minutes(
    db: Session, client: FlaskClient, clock: FixedClock, session_factory: sessionmaker[Session]
) -> None:
    """D19: each wrong PIN re-prompts with the tries left; the third locks for 15 minutes,
    the right PIN included; after 15 minutes it works again. The PIN is never echoed."""
    setup(db, clock)
    phone = Phone(client, AGENT_PHONE)
    phone.dial()
    first = phone.send("9999")
    assert first.lines == ["PIN incorrect. 2 essai(s).", "Entrez votre code PIN agent:"]
    assert phone.send("8888").lines[0] == "PIN incorrect. 1 essai(s)."
    locked = phone.send("7777")
    assert locked.end and locked.text.startswith("PIN bloque jusqu'a 09:15.")
    for reply in (first, locked):
        assert "9999" not in reply and "7777" not in reply
    with session_factory() as session:
        row = session.query(Agent).one()
        assert row.failed_tries == 3 and row.locked_until == T0 + dt.timedelta(minutes=15)
    assert phone.walk(PIN).text.startswith("PIN bloque")
    clock.advance(minutes=15)
    assert phone.walk(PIN).lines[0] == "Agent: Infirmier R."


def test_pin_format_is_checked_before_counting(
    db: Session, client: FlaskClient, clock: FixedClock, session_factory: sessionmaker[Session]
) -> None:
    setup(db, clock)
    reply = Phone(client, AGENT_PHONE).walk("12")
    assert reply.lines == ["Le PIN a 4 a 6 chiffres.", "Entrez votre code PIN agent:"]
    with session_factory() as session:
        assert session.query(Agent).one().failed_tries == 0


def test_unknown_and_household_numbers_reprompt(
    db: Session, client: FlaskClient, clock: FixedClock
) -> None:
    """An unknown number, or a household number, asks again; the next right one answers."""
    _, person = setup(db, clock)
    phone = Phone(client, AGENT_PHONE)
    phone.walk(PIN, "1")
    assert phone.send("424242").lines[0] == "Numero inconnu."
    assert phone.send(person.household.number).lines[0] == "Numero de carte individuel."
    assert phone.send(person.number).lines[0] == "Awa Sawadogo"


def test_agent_only_sees_its_own_mutual(
    db: Session, client: FlaskClient, clock: FixedClock
) -> None:
    """One gateway, many mutuals: a number of another mutual is unknown to this agent."""
    setup(db, clock)
    other = make_mutual(db, code="AUTRE")
    stranger = make_household(db, other).beneficiaries[0]
    db.commit()
    assert Phone(client, AGENT_PHONE).walk(PIN, "1", stranger.number).lines[0] == "Numero inconnu."


def test_ambiguous_number_sends_to_the_mutual(
    db: Session, client: FlaskClient, clock: FixedClock
) -> None:
    """ussd.md: two cards with the same digits -> contact the mutual, no guess."""
    mutual, _ = setup(db, clock)
    household = make_household(db, mutual)
    pair = (household.beneficiaries[0], add_beneficiary(db, household, T0.date()))
    for prefix, beneficiary in zip(("BF-", "ML-"), pair, strict=True):
        beneficiary.number, beneficiary.digits = f"{prefix}7788", "7788"
    db.commit()
    reply = Phone(client, AGENT_PHONE).walk(PIN, "1", "7788")
    assert reply.end
    assert reply.lines == [
        "Ce numero correspond a plusieurs dossiers. Contactez la mutuelle:",
        "Mutuelle: 70 00 00 09",
    ]


def test_visitor_checks_status_and_date_only(
    db: Session, client: FlaskClient, clock: FixedClock
) -> None:
    """Visitor 1: status and date, without name or co-payment (D13 minus both)."""
    _, person = setup(db, clock)
    phone = Phone(client, VISITOR_PHONE)
    assert phone.dial().lines == [
        "Bienvenue, Mutuelle MUT",
        "1 Verifier un beneficiaire",
        "2 Aide",
    ]
    assert phone.send("1").con
    reply = phone.send(person.number)
    assert reply.end
    assert reply.text == f"{person.number}: COUVERT jusqu'au 31/12/2026"
    assert "Awa" not in reply and "Ticket" not in reply


def test_visitor_help_gives_the_mutual_of_the_service_code(
    db: Session, client: FlaskClient, clock: FixedClock
) -> None:
    """Visitor 2: the contact of the mutual whose service code was dialled."""
    setup(db, clock)
    other = make_mutual(db, code="KDG")
    other.name, other.contact, other.service_codes = (
        "Mutuelle de Koudougou",
        "70 11 22 33",
        ["*555#"],
    )
    db.commit()
    phone = Phone(client, VISITOR_PHONE, service_code="*555#")
    assert phone.dial().lines[0] == "Bienvenue, Mutuelle de Koudougou"
    assert phone.walk("2").lines == ["Mutuelle de Koudougou", "70 11 22 33"]
    assert Phone(client, VISITOR_PHONE).walk("2").lines == ["Mutuelle MUT", "Mutuelle: 70 00 00 09"]


def test_visitor_unknown_number_and_back(
    db: Session, client: FlaskClient, clock: FixedClock
) -> None:
    setup(db, clock)
    phone = Phone(client, VISITOR_PHONE)
    phone.walk("1")
    assert phone.send("123").lines[0] == "Numero inconnu."
    assert phone.send("0").lines[0] == "Bienvenue, Mutuelle MUT"


def test_inactive_agent_is_a_visitor(db: Session, client: FlaskClient, clock: FixedClock) -> None:
    setup(db, clock)
    db.query(Agent).one().active = False
    db.commit()
    assert Phone(client, AGENT_PHONE).dial().lines[0] == "Bienvenue, Mutuelle MUT"


def test_waiting_beneficiary_shows_the_date_coverage_starts(
    db: Session, client: FlaskClient, clock: FixedClock
) -> None:
    """D9/D11: paid on 2026-01-20, waiting 60 days -> covered from 21/03/2026."""
    mutual, _ = setup(db, clock)
    household = make_household(db, mutual)
    receive_payment(
        db,
        household=household,
        amount=6000,
        paid_on=dt.date(2026, 1, 20),
        channel="cash",
        reference="W-1",
    )
    db.commit()
    clock.at = dt.datetime(2026, 2, 1, 9, tzinfo=dt.UTC)
    reply = Phone(client, AGENT_PHONE).walk(PIN, "1", household.beneficiaries[0].number)
    assert reply.lines[2] == "PAYE, couvert des le 21/03/2026"  # D12: paid, then covered
