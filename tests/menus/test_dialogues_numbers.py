"""Issue 14 through the USSD handler: a head whose member number is the household's own
number is the person (ussd.md: not an ambiguity; D13's check answers for them), and a service
code that no mutual declares ENDs with "service not available" instead of another mutual's
menu."""

from __future__ import annotations

import datetime as dt

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from gateway.clock import FixedClock
from gateway.menus.engine.catalog import Translator
from gateway.models import Household, Mutual
from gateway.services.agents.registry import add_agent
from gateway.services.coverage.allocation import receive_payment
from tests.support import dialogue
from tests.support.dialogue import Phone
from tests.support.factories import make_household, make_mutual

AGENT_PHONE = "+22670000002"
MEMBER_PHONE = "+22676000001"
VISITOR_PHONE = "+22665000000"
PIN = "1470"
T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)
UNAVAILABLE = "Ce service n'est pas disponible sur ce code USSD."

ussd_app, client = dialogue.ussd_app, dialogue.client


def head_numbered_as_household(db: Session, mutual: Mutual) -> Household:
    """Household H01-1 whose head's card also reads H01-1 (digits 011), covered in 2026."""
    household = make_household(db, mutual, members=2, phone=MEMBER_PHONE)
    head, child = household.beneficiaries
    household.number, household.digits = "H01-1", "011"
    head.number, head.digits = "H01-1", "011"
    child.number, child.digits = "H01-1-02", "01102"
    head.full_name, head.sex, head.birth_date = "Awa Sawadogo", "F", dt.date(1988, 4, 2)
    receive_payment(
        db,
        household=household,
        amount=12000,
        paid_on=dt.date(2026, 1, 10),
        channel="cash",
        reference="P-H01-1",
    )
    return household


def setup(db: Session, clock: FixedClock, role: str) -> Household:
    mutual = make_mutual(db)
    mutual.contact = "Mutuelle: 70 00 00 09"
    household = head_numbered_as_household(db, mutual)
    add_agent(db, mutual, phone=AGENT_PHONE, name="Ali Kabore", role=role, pin=PIN)
    db.commit()
    clock.at = T0
    return household


def test_facility_verify_answers_for_the_head(
    db: Session, client: FlaskClient, clock: FixedClock
) -> None:
    """Typed 011: the household and its own head answer; the person's D13 screen, not the
    'contact the mutual' END of an ambiguous number."""
    setup(db, clock, "facility")
    reply = Phone(client, AGENT_PHONE).walk(PIN, "1", "011")
    assert reply.con
    assert reply.lines[:3] == ["Awa Sawadogo", "Femme, nee en 1988", "COUVERT jusqu'au 31/12/2026"]


def test_visitor_check_answers_for_the_head(
    db: Session, client: FlaskClient, clock: FixedClock
) -> None:
    setup(db, clock, "facility")
    reply = Phone(client, VISITOR_PHONE).walk("1", "011")
    assert reply.end and reply.text == "H01-1: COUVERT jusqu'au 31/12/2026"


def test_collector_collects_for_the_household_of_that_card(
    db: Session, client: FlaskClient, clock: FixedClock
) -> None:
    setup(db, clock, "collector")
    reply = Phone(client, AGENT_PHONE).walk(PIN, "2", "011")
    assert reply.con and reply.lines[0] == "Menage H01-1"


def test_other_shared_digits_still_send_to_the_mutual(
    db: Session, client: FlaskClient, clock: FixedClock
) -> None:
    """A third card with the same digits (Z01-1) keeps the number ambiguous."""
    household = setup(db, clock, "facility")
    other = make_household(db, db.get_one(Mutual, household.mutual_id))
    other.number, other.digits = "Z01-1", "011"
    db.commit()
    reply = Phone(client, AGENT_PHONE).walk(PIN, "1", "011")
    assert reply.end and reply.lines[-1] == "Mutuelle: 70 00 00 09"


def two_mutuals_with_codes(db: Session) -> Household:
    """XYZ on *384*10# (with a member), ABC on *384*20# (with an agent)."""
    first, second = make_mutual(db, code="XYZ"), make_mutual(db, code="ABC")
    first.service_codes, second.service_codes = ["*384*10#"], ["*384*20#"]
    household = make_household(db, first, phone=MEMBER_PHONE)
    add_agent(db, second, phone=AGENT_PHONE, name="Ali Kabore", role="facility", pin=PIN)
    db.commit()
    return household


def test_an_undeclared_service_code_ends_for_every_caller(
    db: Session, client: FlaskClient, clock: FixedClock
) -> None:
    """Member, agent and visitor alike: END, in the default language, even on a deep dial."""
    two_mutuals_with_codes(db)
    clock.at = T0
    for phone in (MEMBER_PHONE, AGENT_PHONE, VISITOR_PHONE):
        reply = Phone(client, phone, service_code="*384*99#").dial()
        assert (reply.end, reply.text) == (True, UNAVAILABLE), phone
    assert Phone(client, VISITOR_PHONE, service_code="*384*99#").dial("1*2").text == UNAVAILABLE
    assert Phone(client, VISITOR_PHONE, service_code="").dial().text == UNAVAILABLE
    assert Translator("en")("service_unavailable") == (
        "This service is not available on this USSD code."
    )


def test_declared_codes_still_reach_their_mutual(
    db: Session, client: FlaskClient, clock: FixedClock
) -> None:
    household = two_mutuals_with_codes(db)
    clock.at = T0
    visitor = Phone(client, VISITOR_PHONE, service_code="*384*20#").dial()
    assert visitor.lines[0] == "Bienvenue, Mutuelle ABC"
    member = Phone(client, MEMBER_PHONE, service_code="*384*10#").dial()
    assert member.lines[0] == f"Menage {household.number}"
    assert Phone(client, AGENT_PHONE, service_code="*384*20#").dial().lines == [
        "Entrez votre code PIN agent:"
    ]


def test_a_deployment_without_service_codes_answers_any_code(
    db: Session, client: FlaskClient, clock: FixedClock
) -> None:
    """A mutual that declares no code serves any code nobody declares (one mutual, the
    default set-up)."""
    make_mutual(db)
    db.commit()
    clock.at = T0
    reply = Phone(client, VISITOR_PHONE, service_code="*384*99#").dial()
    assert reply.con and reply.lines[0] == "Bienvenue, Mutuelle MUT"
