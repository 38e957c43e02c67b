"""Coverage screens agree with `gateway eligibility` (issue acceptance 3): for every case of
tests/coverage/test_eligibility.py (D5-D13), on each date, the member's coverage screens (D12)
and the visitor's and facility's checks (D13) say exactly what `coverage()` says: statuses, dates,
amounts. Payments go through the real path (receive_payment -> allocation)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from gateway.clock import FixedClock
from gateway.menus.engine.catalog import Translator
from gateway.menus.engine.render import clean, short_name
from gateway.models import Household
from gateway.services.agents.registry import add_agent
from gateway.services.coverage.eligibility import Status
from gateway.services.coverage.query import coverage
from tests.support import dialogue
from tests.support.coverage import pay
from tests.support.dialogue import Phone
from tests.support.factories import add_beneficiary, make_household, make_mutual

D = dt.date
PHONE, VISITOR, AGENT, PIN = "+22670123412", "+22665000000", "+22670000002", "1470"
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


def expected_coverage(result: dict[str, Any], names: dict[str, str]) -> list[str]:
    """What D12 looks like on the phone, written from `coverage()`'s JSON."""
    if result["status"] == "UP_TO_DATE":
        lines = [T("cov_ok", until=_day(result["until"]))]
        grace = any(m["status"] == "GRACE" for m in result["members"])
        if grace and result["renewal_amount"]:
            lines.append(T("cov_renewal", amount=T.amount(result["renewal_amount"])))
    else:
        lines = [T("cov_not")]
        if result["amount_due"]:
            lines.append(T("cov_due", amount=T.amount(result["amount_due"])))
    for m in result["members"]:
        name = short_name(names[m["number"]])
        text = T(f"item_{m['status']}", name=name, until=_day(m["until"]), since=_day(m["from"]))
        lines.append(text)
    return [clean(line) for line in lines]


def status_text(result: dict[str, Any]) -> str:
    status = Status(result["status"])
    return clean(T(f"st_{status.value}", until=_day(result["until"]), since=_day(result["from"])))


def shown_coverage(client: FlaskClient) -> list[str]:
    phone = Phone(client, PHONE)
    phone.walk("1")
    return [line for page in phone.pages() for line in page.lines if line not in NAV]


def check_day(db: Session, client: FlaskClient, household: Household, day: dt.date) -> None:
    db.commit()
    names = {b.number: b.full_name for b in household.beneficiaries}
    number = household.number
    results = {n: coverage(db, n, day) for n in (number, *names)}
    db.rollback()  # SQLite: the test holds no lock while the app answers
    assert shown_coverage(client) == expected_coverage(results[number], names), day
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
    for step in steps:
        if step[0] == "pay":
            pay(db, household, step[1], step[2])
        elif step[0] == "add":
            add_beneficiary(db, household, enrolled_on=step[1])
        elif step[0] == "removed":
            add_beneficiary(db, household, step[1], status="removed", left_on=step[2])
        else:
            for i, beneficiary in enumerate(household.beneficiaries):
                beneficiary.full_name = f"Prenom{i} Famille"
            clock.at = dt.datetime.combine(step[1], dt.time(9), tzinfo=dt.UTC)
            check_day(db, client, household, step[1])


def test_unknown_number_agrees(db: Session, client: FlaskClient) -> None:
    """D11 UNKNOWN: the visitor is told the number is unknown and may type another."""
    make_mutual(db)
    db.commit()
    assert coverage(db, "999999", D(2026, 1, 1))["status"] == "UNKNOWN"
    db.rollback()
    reply = Phone(client, VISITOR).walk("1", "999999")
    assert reply.con and reply.lines[0] == "Numero inconnu."
