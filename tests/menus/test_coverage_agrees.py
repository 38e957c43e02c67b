"""Every surface a member or an agent reads agrees with `gateway eligibility` (D6b, D11-D13):
for every case of tests/coverage/test_eligibility.py plus the harvest cases (a future period
paid after a lapse, grace, a renewal due near the period's end, a campaign open for the next
period), on each date, the member's coverage screen and pay screen, the SOLDE reply, the
visitor's and facility's checks, and the receipt of each payment say exactly what
`coverage()`'s JSON says: headline, statuses, dates, the amount offered and its period.
Payments go through the collector's real path (collect_cash -> allocation -> receipt)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.clock import FixedClock
from gateway.menus.engine.catalog import Translator
from gateway.menus.engine.render import clean, short_name
from gateway.models import Agent, Campaign, Household, Mutual
from gateway.services.agents import add_agent, collect_cash
from gateway.services.coverage.eligibility import Status
from gateway.services.coverage.query import coverage
from gateway.services.messaging import Inbound, handle_inbound
from gateway.services.payments import MAX_PAYMENT, MIN_PAYMENT
from tests.support import dialogue
from tests.support.dialogue import Phone
from tests.support.factories import add_beneficiary, make_household, make_mutual

D = dt.date
PHONE, VISITOR, AGENT, PIN = "+22670123412", "+22665000000", "+22670000002", "1470"
COLLECTOR = "+22670000003"
NAV = ("98 Suite", "0 Retour 00 Accueil")
T = Translator("fr")


# name -> (product settings, household settings, steps). A step pays, adds a dependant or
# checks every screen against coverage() on a date, with what is recorded so far.
def checks(*days: dt.date) -> list[tuple[Any, ...]]:
    return [("check", day) for day in days]


CASES: dict[str, tuple[dict[str, Any], dict[str, Any], list[tuple[Any, ...]]]] = {
    "first payment waits, covered, grace, lapse (D11 example)": (
        {},
        {},
        [
            ("pay", 6000, D(2026, 1, 10)),
            *checks(D(2026, 1, 10), D(2026, 3, 10), D(2026, 3, 11)),
            *checks(D(2026, 12, 31), D(2027, 1, 1), D(2027, 1, 31)),
        ],
    ),
    "renewal in grace continues without waiting": (
        {},
        {},
        [
            ("pay", 6000, D(2026, 1, 10)),
            ("pay", 6000, D(2027, 1, 20)),
            *checks(D(2027, 1, 20), D(2027, 2, 1)),
        ],
    ),
    "payment after the join window buys the next period": (
        {},
        {},
        [
            ("pay", 6000, D(2026, 1, 10)),
            ("pay", 6000, D(2027, 3, 1)),
            *checks(D(2027, 3, 1), D(2028, 1, 15), D(2028, 3, 1)),
        ],
    ),
    "lapse beyond grace with a long join window waits again": (
        {"join_window_days": 90},
        {},
        [
            ("pay", 6000, D(2026, 1, 10)),
            ("pay", 6000, D(2027, 3, 1)),
            *checks(D(2027, 1, 20), D(2027, 3, 15), D(2027, 4, 30)),
        ],
    ),
    "dependant added mid-period owes and waits": (
        {},
        {},
        [
            ("pay", 6000, D(2026, 1, 10)),
            ("add", D(2026, 6, 1)),
            *checks(D(2026, 6, 2)),
            ("pay", 6000, D(2026, 6, 5)),
            *checks(D(2026, 7, 1), D(2026, 8, 4)),
        ],
    ),
    "removed beneficiary": (
        {},
        {},
        [
            ("removed", D(2025, 12, 1), D(2026, 5, 1)),
            *checks(D(2026, 1, 5)),
            ("pay", 12000, D(2026, 1, 5)),
            *checks(D(2026, 6, 1), D(2027, 1, 5)),
        ],
    ),
    "subsidised household pays its share": (
        {"subsidies": [("subsidised", 50, "ETAT")]},
        {"members": 2, "category": "subsidised"},
        [*checks(D(2026, 1, 5)), ("pay", 6000, D(2026, 1, 5)), *checks(D(2026, 3, 10))],
    ),
    "indigent household is covered automatically": (
        {"subsidies": [("indigent", 0, "MASSN")]},
        {"members": 3, "category": "indigent"},
        checks(D(2026, 1, 2), D(2026, 3, 2), D(2027, 2, 1)),
    ),
    "partial payments wait as credit": (
        {},
        {"members": 2},
        [
            ("pay", 5000, D(2026, 1, 5)),
            *checks(D(2026, 1, 6)),
            ("pay", 7000, D(2026, 1, 12)),
            *checks(D(2026, 1, 13)),
        ],
    ),
    "one payment for two periods": (
        {},
        {},
        [("pay", 12000, D(2026, 1, 10)), *checks(D(2026, 6, 1), D(2027, 6, 1), D(2028, 1, 10))],
    ),
    "monthly product, six months prepaid": (
        {
            "period": "month",
            "contribution": 500,
            "waiting_days": 30,
            "grace_days": 10,
            "join_window_days": 10,
        },
        {},
        [
            ("pay", 3000, D(2026, 1, 5)),
            *checks(D(2026, 2, 3), D(2026, 2, 10), D(2026, 7, 5), D(2026, 7, 15)),
        ],
    ),
    "renewal offered once the year ends within renewal_notice_days (D6b)": (
        {"renewal_notice_days": 45},
        {"members": 2},
        [("pay", 12000, D(2026, 1, 10)), *checks(D(2026, 11, 16), D(2026, 11, 17))],
    ),
    "campaign open for next year offers the renewal (D6b, D14)": (
        {"renewal_notice_days": 0},
        {"members": 2},
        [
            ("pay", 12000, D(2026, 1, 10)),
            ("campaign", D(2026, 10, 1), D(2027, 1, 31), D(2027, 1, 1)),
            *checks(D(2026, 9, 30), D(2026, 10, 1)),
            ("pay", 5000, D(2026, 10, 2)),
            *checks(D(2026, 10, 3)),
            ("pay", 7000, D(2026, 10, 4)),
            *checks(D(2026, 10, 5), D(2027, 1, 1)),
        ],
    ),
    "lapsed, paid after the join window: paid, covered from next year (D11)": (
        {},
        {},
        [
            ("pay", 6000, D(2026, 1, 10)),
            *checks(D(2027, 1, 15), D(2027, 3, 1)),
            ("pay", 6000, D(2027, 3, 2)),
            *checks(D(2027, 3, 3), D(2028, 1, 1), D(2028, 3, 1)),
        ],
    ),
    "registration fee first": (
        {"registration_fee": 1000},
        {},
        [
            *checks(D(2026, 1, 5)),
            ("pay", 6500, D(2026, 1, 5)),
            *checks(D(2026, 1, 6)),
            ("pay", 500, D(2026, 1, 7)),
            *checks(D(2026, 1, 8)),
        ],
    ),
}

# The dialogue fixtures (an app on the test database and Redis, its client).
ussd_app, client = dialogue.ussd_app, dialogue.client


def _day(iso: str | None) -> str:
    return T.date(dt.date.fromisoformat(iso)) if iso else "-"


def headline(result: dict[str, Any]) -> str:
    """D12 from the JSON: every active member covered (or in grace) -> until the earliest
    end; someone not paid -> PAS A JOUR; else paid and waiting -> from the latest start."""
    members = [m for m in result["members"] if m["status"] not in ("SUSPENDED", "REMOVED")]
    states = {m["status"] for m in members}
    froms = [m["from"] for m in members if m["status"] == "WAITING"]
    if not members:
        return T("hl_INACTIVE")
    if "NOT_COVERED" in states:
        return T("hl_NOT_PAID")
    if froms:
        return T("hl_WAITING", since=_day(max(froms)))
    until = _day(min(m["until"] for m in members))
    return T("hl_GRACE" if "GRACE" in states else "hl_COVERED", until=until)


def offer_line(result: dict[str, Any]) -> str:
    """D6b from the JSON: `Cotisation 2027: 7 000 FCFA`, or nothing."""
    offered = result["offered"]
    if offered["kind"] == "none":
        return ""
    key = "offer_line_fee" if offered["registration"] else "offer_line"
    return T(key, period=offered["period"], amount=T.amount(offered["amount"]))


def expected_coverage(result: dict[str, Any], names: dict[str, str]) -> list[str]:
    """What D12 looks like on the phone, written from `coverage()`'s JSON."""
    lines = [line for line in (headline(result), offer_line(result)) if line]
    for m in result["members"]:
        name = short_name(names[m["number"]])
        text = T(f"item_{m['status']}", name=name, until=_day(m["until"]), since=_day(m["from"]))
        lines.append(text)
    return [clean(line) for line in lines]


def expected_pay(result: dict[str, Any]) -> list[str]:
    """Option 2: the headline, the offer (or that nothing is due), 1 pay it, 2 another amount."""
    lines = [headline(result), offer_line(result) or T("pay_nothing")]
    amount = result["offered"]["amount"]
    if MIN_PAYMENT <= amount <= MAX_PAYMENT:
        lines.append("1 " + T("opt_pay_due"))
    lines.append("2 " + T("opt_pay_other"))
    return [clean(line) for line in lines]


def expected_solde(result: dict[str, Any]) -> str:
    words = ". ".join(p for p in (headline(result), offer_line(result)) if p)
    return clean(f"MUT: menage {result['household']}: {words}.")


def expected_receipt_cover(result: dict[str, Any]) -> str:
    """A receipt says what is left to pay for the period offered (the amount due, or a
    renewal already partly paid), else the headline."""
    offered = result["offered"]
    partial = offered["kind"] == "renewal" and result["credit"] > 0
    if offered["amount"] and (offered["kind"] == "due" or partial):
        return clean(T("rc_rest", period=offered["period"], amount=T.amount(offered["amount"])))
    return clean(headline(result))


def status_text(result: dict[str, Any]) -> str:
    status = Status(result["status"])
    return clean(T(f"st_{status.value}", until=_day(result["until"]), since=_day(result["from"])))


def shown_coverage(client: FlaskClient) -> list[str]:
    phone = Phone(client, PHONE)
    phone.walk("1")
    return [line for page in phone.pages() for line in page.lines if line not in NAV]


def solde(db: Session, day: dt.date) -> str:
    """The reply to SOLDE sent on DAY (the real inbound path)."""
    now = dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC)
    sms = Inbound("africastalking", f"in-{day}-{uuid.uuid4().hex}", PHONE, "22123", "SOLDE")
    (reply,) = handle_inbound(db, sms, now=now).replies
    text = reply.text
    db.rollback()
    return text


def pay_cash(db: Session, household: Household, amount: int, day: dt.date) -> None:
    """A collector's cash payment on DAY; its receipt says what the JSON says that day."""
    now = dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC)
    collector = db.scalars(select(Agent).where(Agent.role == "collector")).one()
    done = collect_cash(
        db,
        agent=collector,
        household=household,
        amount=amount,
        request_key=str(uuid.uuid4()),
        now=now,
    )
    assert done.receipt is not None
    result = coverage(db, household.number, day)
    assert done.receipt.text.endswith(f" {expected_receipt_cover(result)}."), done.receipt.text


def check_day(db: Session, client: FlaskClient, household: Household, day: dt.date) -> None:
    db.commit()
    names = {b.number: b.full_name for b in household.beneficiaries}
    number = household.number
    results = {n: coverage(db, n, day) for n in (number, *names)}
    db.rollback()  # SQLite: the test holds no lock while the app answers
    assert shown_coverage(client) == expected_coverage(results[number], names), day
    pay_screen = Phone(client, PHONE).walk("2")
    assert [line for line in pay_screen.lines if line not in NAV] == expected_pay(results[number])
    assert solde(db, day) == expected_solde(results[number]), day
    for member in names:
        visitor = Phone(client, VISITOR).walk("1", member)
        assert visitor.text == f"{member}: {status_text(results[member])}", (day, member)
    head = next(iter(names))
    facility = Phone(client, AGENT).walk(PIN, "1", head)
    assert facility.lines[2] == status_text(results[head]), day


@pytest.mark.parametrize("case", list(CASES))
def test_coverage_screens_agree_with_eligibility(
    db: Session, client: FlaskClient, clock: FixedClock, case: str
) -> None:
    product, shape, steps = CASES[case]
    mutual = make_mutual(db, **product)
    household = make_household(db, mutual, phone=PHONE, **shape)
    add_agent(db, mutual, phone=AGENT, name="Infirmier", role="facility", pin=PIN)
    add_agent(db, mutual, phone=COLLECTOR, name="Collecteur", role="collector", pin=PIN)
    for step in steps:
        if step[0] == "pay":
            pay_cash(db, household, step[1], step[2])
        elif step[0] == "campaign":
            add_campaign(db, mutual, *step[1:])
        elif step[0] == "add":
            add_beneficiary(db, household, enrolled_on=step[1])
        elif step[0] == "removed":
            add_beneficiary(db, household, step[1], status="removed", left_on=step[2])
        else:
            for i, beneficiary in enumerate(household.beneficiaries):
                beneficiary.full_name = f"Prenom{i} Famille"
            clock.at = dt.datetime.combine(step[1], dt.time(9), tzinfo=dt.UTC)
            check_day(db, client, household, step[1])


def add_campaign(
    db: Session, mutual: Mutual, opens: dt.date, closes: dt.date, for_period: dt.date
) -> None:
    product = mutual.products[0]
    db.add(
        Campaign(
            mutual_id=mutual.id,
            product_id=product.id,
            code="RECOLTE",
            name="Recolte",
            opens_on=opens,
            closes_on=closes,
            for_period=for_period,
        )
    )
    db.flush()


def test_unknown_number_agrees(db: Session, client: FlaskClient) -> None:
    """D11 UNKNOWN: the visitor is told the number is unknown and may type another."""
    make_mutual(db)
    db.commit()
    assert coverage(db, "999999", D(2026, 1, 1))["status"] == "UNKNOWN"
    db.rollback()
    reply = Phone(client, VISITOR).walk("1", "999999")
    assert reply.con and reply.lines[0] == "Numero inconnu."
