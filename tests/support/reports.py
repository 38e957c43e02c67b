"""A mutual with funders, a levy and sections, for the reports' tests (issue 17): household
1001 (Nord, category partial: the State pays half) paid for 2026, 1002 (Nord, indigent: the
State pays all, allocated automatically), 1003 (Nord, standard, three members) unpaid, 1004
(Sud, standard) paid; a facility agent in Sud. Contribution 6 000 XOF, registration fee
1 000, levy FGN 3 %."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from gateway.models import Agent, Household, Mutual, Section
from gateway.services.coverage import allocate_due, receive_payment
from tests.support.factories import make_household, make_mutual

PAID_ON = dt.date(2026, 1, 10)
TODAY = dt.date(2026, 3, 2)  # tests.support.console.NOW's day


@dataclass
class Scenario:
    mutual: Mutual
    nord: Section
    sud: Section
    households: dict[str, Household]
    facility: Agent


def build(db: Session, code: str = "MUT") -> Scenario:
    mutual = make_mutual(
        db,
        code,
        registration_fee=1000,
        subsidies=[("partial", 50, "ETAT"), ("indigent", 0, None)],
        levies=[("FGN", 300)],
    )
    state = mutual.funders[0]
    mutual.products[0].subsidies[1].funder = state
    nord, sud = Section(mutual=mutual, name="Nord"), Section(mutual=mutual, name="Sud")
    db.add_all([nord, sud])
    db.flush()
    made = {
        "1001": (2, "partial", nord, "+22670000001"),
        "1002": (1, "indigent", nord, None),
        "1003": (3, "standard", nord, "+22670000003"),
        "1004": (1, "standard", sud, "+22670000004"),
    }
    households = {}
    for number, (members, category, section, phone) in made.items():
        household = make_household(
            db, mutual, members, category=category, phone=phone, number=number
        )
        household.section_id = section.id
        households[number] = household
    facility = Agent(
        mutual_id=mutual.id,
        section_id=sud.id,
        msisdn=f"+22671{sum(map(ord, code)):06d}",  # MUT: +22671000246
        name=f"CSPS Sud {code}",
        role="facility",
        pin_hash="x",
    )
    db.add(facility)
    db.flush()
    for number, amount in (("1001", 6500), ("1004", 7000)):
        receive_payment(
            db,
            household=households[number],
            amount=amount,
            paid_on=PAID_ON,
            channel="cash",
            reference=f"pay-{number}",
        )
    allocate_due(db, on=PAID_ON, mutual_id=mutual.id)
    db.flush()
    return Scenario(mutual, nord, sud, households, facility)
