"""Collector option 5, Inscrire un menage (D24, issue 18 acceptance 3), through the HTTP
handler: a full enrolment (PENDING, then approved: household and member numbers with a check
digit, SMS to the head and the collector), a dropped session resumed from the draft, bad
answers re-prompted with what is wrong, a duplicate phone flagged for the manager, and a
one-digit typo of a generated number refused before any lookup. `gateway ledger check`'s
audit is clean after each scenario (acceptance 5)."""

from __future__ import annotations

import datetime as dt

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.clock import FixedClock
from gateway.lib import checkdigit
from gateway.models import (
    Agent,
    Beneficiary,
    Enrolment,
    EnrolmentStatus,
    Household,
    HouseholdEvent,
    Mutual,
    OutboxMessage,
    Section,
)
from gateway.services import ledger
from gateway.services.agents.registry import add_agent
from gateway.services.members import decide_enrolment
from gateway.services.operators import Actor
from tests.support import dialogue
from tests.support.dialogue import Phone
from tests.support.factories import make_household, make_mutual

COLLECTOR = "+22670000002"
MEMBER_PHONE = "+22676000001"
PIN = "1470"
T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)
HEAD = ("Awa Sawadogo", "2", "1985", "70123456")  # name, 2 = Femme, year, national phone
DEPENDANTS = (("Ali Sawadogo", "1", "2015"), ("Ami Sawadogo", "2", "2018"))

ussd_app, client = dialogue.ussd_app, dialogue.client


def setup(db: Session, clock: FixedClock) -> tuple[Mutual, Agent, Household]:
    mutual = make_mutual(db)
    mutual.sections.append(Section(name="Nord"))
    mutual.sections.append(Section(name="Sud"))
    imported = make_household(db, mutual, members=2, phone=MEMBER_PHONE)
    agent = add_agent(db, mutual, phone=COLLECTOR, name="Ali Kabore", role="collector", pin=PIN)
    db.commit()
    clock.at = T0
    return mutual, agent, imported


def enrol(
    phone: Phone, head: tuple[str, ...] = HEAD, deps: tuple[tuple[str, ...], ...] = DEPENDANTS
) -> dialogue.Reply:
    """PIN, option 5, the head, section 1 (Nord), the dependants: the summary screen."""
    phone.walk(PIN, "5", *head, "1", str(len(deps)))
    for dep in deps:
        for value in dep:
            reply = phone.send(value)
    return reply if deps else phone.last  # type: ignore[return-value]


def one(session_factory: sessionmaker[Session]) -> Enrolment:
    with session_factory() as session:
        found = session.scalars(select(Enrolment)).one()
        session.expunge_all()
        return found


def audit_clean(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        assert ledger.audit(session) == []


def test_full_enrolment_then_approval(
    db: Session, client: FlaskClient, clock: FixedClock, session_factory: sessionmaker[Session]
) -> None:
    """D24: every screen fits (dialogue checks each reply); confirmed: PENDING with its
    dependants; approved: household and member numbers with a check digit (an `enrol` event,
    D23) and the two SMS with the numbers in the outbox."""
    _mutual, agent, _ = setup(db, clock)
    phone = Phone(client, COLLECTOR)
    menu = phone.walk(PIN)
    assert menu.lines[-1] == "5 Inscrire un menage"
    assert phone.send("5").lines == ["Nouveau menage", "Nom complet du chef de menage:",
                                     "0 Retour 00 Accueil"]  # fmt: skip
    assert phone.send("Awa Sawadogo").lines[:2] == ["Awa Sawadogo", "Sexe:"]
    phone.send("2")
    phone.send("1985")
    assert phone.send("70123456").lines == ["Section du menage:", "1 Nord", "2 Sud",
                                            "0 Retour 00 Accueil"]  # fmt: skip
    assert phone.send("1").lines[1] == "Nombre de personnes a charge (0 a 20):"
    assert phone.send("2").lines[0] == "Personne a charge 1/2"
    assert phone.send("Ali Sawadogo").lines[:2] == ["1/2 Ali Sawadogo", "Sexe:"]
    phone.send("1")
    phone.send("2015")
    for value in DEPENDANTS[1]:
        summary = phone.send(value)
    assert summary.lines == [
        "Awa Sawadogo (F 1985)",
        "Tel +22670123456",
        "Section Nord",
        "+2 a charge",
        "1 Confirmer",
        "2 Annuler",
        "0 Retour 00 Accueil",
    ]
    done = phone.send("1")
    assert done.end and done.lines[0].startswith("Inscription #")
    assert "les numeros seront envoyes par SMS" in done.text
    pending = one(session_factory)
    assert (pending.status, pending.head_phone, pending.duplicates) == (
        EnrolmentStatus.PENDING, "+22670123456", None,
    )  # fmt: skip
    with session_factory() as session:
        found = session.get_one(Enrolment, pending.id)
        assert [(d.full_name, d.sex, d.birth_year) for d in found.dependants] == [
            ("Ali Sawadogo", "M", 2015), ("Ami Sawadogo", "F", 2018),
        ]  # fmt: skip
        decide_enrolment(session, found, "approve", by="gerant", actor=Actor(None),
                         reason="", now=T0)  # fmt: skip
        session.commit()
    with session_factory() as session:
        household = session.scalars(select(Household).where(Household.number.startswith("9"))).one()
        assert household.number == checkdigit.household_number(1) == "900000019"
        people = session.scalars(
            select(Beneficiary).where(Beneficiary.household_id == household.id)
        ).all()
        numbers = [b.number for b in people]
        assert numbers == [checkdigit.member_number(household.number, r) for r in (1, 2, 3)]
        assert all(checkdigit.is_valid(n) for n in numbers)
        assert [(b.relation, b.birth_date) for b in people][:2] == [
            ("head", dt.date(1985, 1, 1)), ("other", dt.date(2015, 1, 1)),
        ]  # fmt: skip
        assert [p.msisdn for p in household.phones] == ["+22670123456"]
        event = session.scalars(select(HouseholdEvent)).one()
        assert (event.type, event.household_id, event.recorded_by) == (
            "enrol",
            household.id,
            "gerant",
        )
        sms = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        assert [(m.phone, m.template) for m in sms] == [
            ("+22670123456", "enrol_approved"), (COLLECTOR, "enrol_approved_agent"),
        ]  # fmt: skip
        cards = f"Awa {numbers[0]}, Ali {numbers[1]}, Ami {numbers[2]}"
        assert sms[0].text == f"MUT: menage 900000019 inscrit. Cartes: {cards}"
        assert (
            sms[1].text
            == f"MUT: inscription #{pending.id} validee, menage 900000019. Cartes: {cards}"
        )
        assert all(len(m.text) <= 140 for m in sms)
        assert agent.id == pending.agent_id
    audit_clean(session_factory)


def test_a_dropped_session_resumes_from_the_draft(
    db: Session, client: FlaskClient, clock: FixedClock, session_factory: sessionmaker[Session]
) -> None:
    """The draft is kept per collector: the next dial offers 1 Continuer at the first
    question not answered; 2 Recommencer starts afresh."""
    setup(db, clock)
    first = Phone(client, COLLECTOR)
    first.walk(PIN, "5", "Awa Sawadogo", "2", "1985")  # then the network drops the session
    again = Phone(client, COLLECTOR)
    offer = again.walk(PIN, "5")
    assert offer.lines == ["Inscription en cours: Awa Sawadogo", "1 Continuer", "2 Recommencer",
                           "0 Retour 00 Accueil"]  # fmt: skip
    assert again.send("1").lines[:2] == ["Awa Sawadogo", "Telephone du chef de menage:"]
    again.send("70123456")
    again.send("2")  # Sud
    summary = again.send("0")
    assert summary.lines[:4] == ["Awa Sawadogo (F 1985)", "Tel +22670123456", "Section Sud",
                                 "+0 a charge"]  # fmt: skip
    assert again.send("1").end
    assert one(session_factory).status == EnrolmentStatus.PENDING
    # A new draft, dropped, then started again: nothing of it is kept.
    Phone(client, COLLECTOR).walk(PIN, "5", "Moussa Ouedraogo", "1")
    restart = Phone(client, COLLECTOR).walk(PIN, "5", "2")
    assert restart.lines[:2] == ["Nouveau menage", "Nom complet du chef de menage:"]
    with session_factory() as session:
        drafts = session.scalars(
            select(Enrolment).where(Enrolment.status == EnrolmentStatus.DRAFT)
        ).all()
        assert [(d.head_name, d.head_sex) for d in drafts] == [(None, None)]
    audit_clean(session_factory)


@pytest.mark.parametrize(
    ("answers", "error"),
    [
        ((" ",), "Nom vide ou sans lettres."),
        (("",), "Nom vide ou sans lettres."),
        (("12345",), "Nom vide ou sans lettres."),
        (("A" * 41,), "Nom trop long (40 max)."),
        (("Awa Sawadogo", "3"), "Choix invalide."),
        (("Awa Sawadogo", "2", "85"), "Tapez 4 chiffres (ex. 1985)."),
        (("Awa Sawadogo", "2", "1850"), "Annee de 1900 a cette annee."),
        (("Awa Sawadogo", "2", "2030"), "Annee de 1900 a cette annee."),
        (("Awa Sawadogo", "2", "1985", "12"), "Telephone invalide."),
        (("Awa Sawadogo", "2", "1985", "70123456", "7"), "Section inconnue."),
        (("Awa Sawadogo", "2", "1985", "70123456", "1", "25"), "Tapez un nombre de 0 a 20."),
        (("Awa Sawadogo", "2", "1985", "70123456", "1", "1", "-"), "Nom vide ou sans lettres."),
    ],
)
def test_bad_answers_are_reprompted(
    db: Session,
    client: FlaskClient,
    clock: FixedClock,
    answers: tuple[str, ...],
    error: str,
) -> None:
    """A wrong answer re-shows the same question with what is wrong; the session goes on."""
    setup(db, clock)
    phone = Phone(client, COLLECTOR)
    before = phone.walk(PIN, "5", *answers[:-1])
    reply = phone.send(answers[-1])
    assert reply.con and reply.lines[0] == error
    assert reply.lines[1:] == before.lines


def test_a_duplicate_phone_is_flagged_for_the_manager(
    db: Session, client: FlaskClient, clock: FixedClock, session_factory: sessionmaker[Session]
) -> None:
    """D24: the same phone as a member's household: stored PENDING, flagged with the match;
    the collector is told it will be checked. A second enrolment of the same head (name and
    year, in the section) is flagged against the first."""
    _, _, imported = setup(db, clock)
    phone = Phone(client, COLLECTOR)
    enrol(phone, ("Awa Sawadogo", "2", "1985", "76000001"), ())
    done = phone.send("1")
    assert done.end and "Doublon possible: un gerant va verifier" in done.text
    flagged = one(session_factory)
    assert flagged.duplicates == [{"kind": "household", "ref": imported.number, "why": "phone"}]
    again = Phone(client, COLLECTOR)
    enrol(again, ("AWA  SAWADOGO", "2", "1985", "70999999"), ())
    assert "Doublon possible" in again.send("1").text
    with session_factory() as session:
        second = session.scalars(select(Enrolment).order_by(Enrolment.id.desc())).first()
        assert second is not None and second.duplicates == [
            {"kind": "enrolment", "ref": str(flagged.id), "why": "name", "name": "Awa Sawadogo"}
        ]
    audit_clean(session_factory)


def test_a_one_digit_typo_is_refused_before_any_lookup(
    db: Session, client: FlaskClient, clock: FixedClock, session_factory: sessionmaker[Session]
) -> None:
    """A generated number with one wrong digit: "Verifiez le dernier chiffre." on the agent's
    check and on cash collection; the right number and an imported one still work."""
    mutual, _, imported = setup(db, clock)
    phone = Phone(client, COLLECTOR)
    enrol(phone, HEAD, ())
    phone.send("1")
    with session_factory() as session:
        decide_enrolment(session, session.scalars(select(Enrolment)).one(), "approve",
                         by="gerant", actor=Actor(None), reason="", now=T0)  # fmt: skip
        session.commit()
    member = checkdigit.member_number(checkdigit.household_number(1), 1)
    typo = member[:5] + str((int(member[5]) + 1) % 10) + member[6:]
    check = Phone(client, COLLECTOR)
    check.walk(PIN, "1")
    refused = check.send(typo)
    assert refused.con and refused.lines[0] == "Verifiez le dernier chiffre."
    assert "Awa Sawadogo" in check.send(member).text
    collect = Phone(client, COLLECTOR)
    collect.walk(PIN, "2")
    household = checkdigit.household_number(1)
    wrong = household[:-1] + str((int(household[-1]) + 3) % 10)
    assert collect.send(wrong).lines[0] == "Verifiez le dernier chiffre."
    assert collect.send(household).lines[0] == f"Menage {household}"
    old = Phone(client, COLLECTOR)
    old.walk(PIN, "1")
    assert imported.beneficiaries[0].full_name in old.send(imported.beneficiaries[0].number).text
    assert mutual.code == "MUT"
    audit_clean(session_factory)
