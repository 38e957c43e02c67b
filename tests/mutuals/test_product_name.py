"""A product's `name` is optional in the mutual file (interfaces.md, Files: `[[products]]`
`code`, optional `name` (default: the code)), and a mutual whose product has no name works on
every surface a member reads: the USSD coverage and pay screens (D12, D6), the SOLDE reply and
the payment receipt by SMS."""

from __future__ import annotations

import datetime as dt

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.clock import FixedClock
from gateway.models import OutboxMessage
from gateway.services.agents import add_agent, collect_cash
from gateway.services.messaging.inbound import Inbound, handle_inbound
from gateway.services.mutuals.config import load_mutual
from tests.support import dialogue
from tests.support.dialogue import Phone
from tests.support.factories import make_household

ussd_app, client = dialogue.ussd_app, dialogue.client
PHONE = "+22670123412"
NAMELESS = """
[mutual]
code = "NONAME"
name = "Mutuelle sans nom de produit"
country = "BF"
timezone = "Africa/Ouagadougou"
sections = ["Nord"]

[[products]]
code = "STD"
contribution = 6000

[[products]]
code = "PLUS"
name = "Garantie plus"
contribution = 9000
"""


def test_a_product_without_name_is_named_by_its_code(db: Session) -> None:
    mutual = load_mutual(db, NAMELESS)
    assert [(p.code, p.name) for p in mutual.products] == [
        ("STD", "STD"),
        ("PLUS", "Garantie plus"),
    ]
    # Reloading changes nothing; naming it later renames it; removing the name again
    # gives back the code.
    assert load_mutual(db, NAMELESS).products[0].name == "STD"
    named = NAMELESS.replace('code = "STD"\n', 'code = "STD"\nname = "Base"\n')
    assert load_mutual(db, named).products[0].name == "Base"
    assert load_mutual(db, NAMELESS).products[0].name == "STD"


def outbox(db: Session) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(OutboxMessage.phone == PHONE)
    return list(db.scalars(query.order_by(OutboxMessage.id)))


def test_every_member_surface_works_with_the_default_name(
    db: Session, client: FlaskClient, clock: FixedClock
) -> None:
    mutual = load_mutual(db, NAMELESS)
    household = make_household(db, mutual, members=2, phone=PHONE)
    db.commit()
    clock.at = dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC)
    assert Phone(client, PHONE).walk("1").lines[:2] == [
        "PAS A JOUR",
        "Cotisation 2027: 12 000 FCFA",
    ]
    assert Phone(client, PHONE).walk("2").lines[:3] == [
        "PAS A JOUR",
        "Cotisation 2027: 12 000 FCFA",
        "1 Payer ce montant",
    ]
    sms = Inbound("africastalking", "ATXid_1", PHONE, "21212", "SOLDE")
    handle_inbound(db, sms, now=clock.now())
    assert outbox(db)[-1].text == (
        f"NONAME: menage {household.number}: PAS A JOUR. Cotisation 2027: 12 000 FCFA."
    )
    agent = add_agent(db, mutual, phone="70000002", name="Ali", role="collector", pin="2580")
    collect_cash(
        db, agent=agent, household=household, amount=12000, request_key="k1", now=clock.now()
    )
    receipt = outbox(db)[-1]
    assert receipt.template == "cash_receipt" and "12 000 FCFA" in receipt.text
    assert receipt.text.startswith("NONAME: ")
