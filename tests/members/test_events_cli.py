"""`gateway members event NUMBER TYPE ...` (D23, interfaces.md): one event per call, its
effect shown by `gateway eligibility`; clear one-line errors and exit 1 on bad input."""

from __future__ import annotations

import datetime as dt
import json

from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.cli import main
from gateway.models import Household, HouseholdEvent, Product
from gateway.services.coverage.allocation import receive_payment
from gateway.services.ledger import audit
from tests.support.factories import make_household, make_mutual


def cli(database_url: str, *args: str) -> tuple[int, str]:
    env = {"DATABASE_URL": database_url, "GATEWAY_ENV": "test"}
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.output


def household_paid(db: Session) -> tuple[str, str, str]:
    """Household 30001 (head 3000101, child 3000102) paid for 2026 and 2027."""
    mutual = make_mutual(db, subsidies=[("indigent", 0, "MASSN")])
    household = make_household(db, mutual, members=2, number="30001")
    receive_payment(
        db,
        household=household,
        amount=24000,
        paid_on=dt.date(2026, 1, 10),
        channel="cash",
        reference="R1",
    )
    db.commit()
    head, child = household.beneficiaries
    return household.number, head.number, child.number


def test_suspend_and_lift_shown_by_eligibility(db: Session, database_url: str) -> None:
    """D11: SUSPENDED with its reason through the command, then lifted."""
    _hh, _head, child = household_paid(db)
    db.rollback()
    code, out = cli(
        database_url, "members", "event", child, "suspend", "--on", "2026-06-01",
        "--reason", "carte prêtée", "--by", "gérant", "--json",
    )  # fmt: skip
    assert code == 0, out
    data = json.loads(out)
    assert (data["type"], data["beneficiary"], data["created"]) == ("suspend", child, True)
    code, out = cli(database_url, "eligibility", child, "--on", "2026-06-02", "--json")
    assert (json.loads(out)["status"], json.loads(out)["reason"]) == ("SUSPENDED", "carte prêtée")
    code, out = cli(database_url, "eligibility", child, "--on", "2026-06-02")
    assert "SUSPENDED (carte prêtée)" in out
    code, out = cli(
        database_url, "members", "event", child, "lift", "--on", "2026-06-03", "--reason", "ok"
    )
    assert code == 0 and "lift recorded for" in out
    code, out = cli(database_url, "eligibility", child, "--on", "2026-06-04", "--json")
    assert json.loads(out)["status"] == "COVERED"
    with db.begin():
        events = db.scalars(select(HouseholdEvent).order_by(HouseholdEvent.id)).all()
        assert [(e.type, e.reason, e.recorded_by) for e in events] == [
            ("suspend", "carte prêtée", "gérant"),
            ("lift", "ok", events[1].recorded_by),
        ]
        assert events[1].recorded_by.startswith("cli")
    code, out = cli(database_url, "members", "history", child, "--json")
    assert code == 0, out
    history = json.loads(out)
    assert [(h["type"], h["beneficiary"], h["effective_on"]) for h in history] == [
        ("suspend", child, "2026-06-01"),
        ("lift", child, "2026-06-03"),
    ]
    assert history[1]["payload"] == {"status": "active", "suspension": "carte prêtée"}
    code, out = cli(database_url, "members", "history", "30001")
    assert code == 0 and "2026-06-01 suspend" in out and "2 event(s)" in out
    code, out = cli(database_url, "members", "history", "nobody")
    assert code == 1 and "no household or member" in out


def test_death_and_reenrol_through_the_command(db: Session, database_url: str) -> None:
    """D7, D23: a death gives the 2027 share back; eligibility on a date after it: REMOVED."""
    _hh, _head, child = household_paid(db)
    db.rollback()
    code, out = cli(
        database_url, "members", "event", child, "depart", "--on", "2026-03-31",
        "--reason", "parti", "--json",
    )  # fmt: skip
    assert code == 0, out
    assert json.loads(out)["payload"]["released_periods"] == ["2027-01-01"]
    code, out = cli(database_url, "eligibility", child, "--on", "2026-05-01", "--json")
    assert json.loads(out)["status"] == "REMOVED"
    code, out = cli(
        database_url, "members", "event", child, "reenrol", "--on", "2026-09-01", "--reason", "r"
    )
    assert code == 0, out
    code, out = cli(database_url, "eligibility", child, "--on", "2026-05-01", "--json")
    assert json.loads(out)["status"] == "REMOVED"  # in the gap between the two spells
    code, out = cli(database_url, "ledger", "check")
    assert code == 0, out
    with db.begin():
        assert audit(db) == []


def test_household_events_through_the_command(db: Session, database_url: str) -> None:
    hh, head, child = household_paid(db)
    db.rollback()
    code, out = cli(
        database_url, "members", "event", hh, "category", "--category", "indigent",
        "--certificate", "MASSN-2026-17", "--on", "2026-06-15", "--reason", "certificat",
        "--json",
    )  # fmt: skip
    assert code == 0, out
    assert json.loads(out)["payload"]["certificate"] == "MASSN-2026-17"
    code, out = cli(
        database_url, "members", "event", hh, "add-dependant", "--number", "3000109",
        "--name", "Awa", "--sex", "F", "--birth-date", "2026-11-20", "--on", "2026-12-01",
        "--reason", "naissance",
    )  # fmt: skip
    assert code == 0, out
    code, out = cli(
        database_url, "members", "event", hh, "change-head", "--head", child,
        "--former-relation", "spouse", "--reason", "décès", "--on", "2026-12-01",
    )  # fmt: skip
    assert code == 0, out
    code, out = cli(
        database_url, "members", "event", head, "correct", "--name", "Issa O.", "--reason", "typo",
        "--on", "2026-12-01",
    )  # fmt: skip
    assert code == 0, out
    code, out = cli(database_url, "eligibility", hh, "--json")
    assert "3000109" in {m["number"] for m in json.loads(out)["members"]}


def test_bad_input_is_one_line_and_exit_1(db: Session, database_url: str) -> None:
    hh, _head, child = household_paid(db)
    db.rollback()
    cases = [
        (("members", "event", child, "suspend", "--on", "2026-06-01"), "--reason is required"),
        (("members", "event", "999", "depart", "--reason", "x"), "no beneficiary numbered"),
        (("members", "event", child, "depart", "--on", "June", "--reason", "x"), "YYYY-MM-DD"),
        (
            ("members", "event", hh, "product", "--product", "STD", "--reason", "x"),
            "already on STD",
        ),
        (("members", "event", child, "lift", "--reason", "x"), "is not suspended"),
        (("members", "event", child, "depart", "--mutual", "NOPE", "--reason", "x"), "unknown"),
    ]
    for args, message in cases:
        code, out = cli(database_url, *args)
        assert code == 1, (args, out)
        assert message in out, (args, out)


def test_product_change_waits_for_the_boundary_then_allocation_run_applies_it(
    db: Session, database_url: str
) -> None:
    """D23: a change dated at the next boundary waits; `gateway allocation run` on that day
    switches the product (what the daily job does) and says how many it switched."""
    hh, _head, _child = household_paid(db)
    mutual_id = db.scalars(select(Household.mutual_id).where(Household.number == hh)).one()
    db.add(
        Product(
            mutual_id=mutual_id,
            code="PLUS",
            name="Plus",
            period="year",
            contribution=9000,
            registration_fee=0,
            waiting_days=60,
            grace_days=30,
            join_window_days=30,
            coverage_start="01-01",
        )
    )
    db.commit()
    boundary = dt.date(dt.datetime.now(dt.UTC).year + 1, 1, 1).isoformat()  # the real clock
    code, out = cli(
        database_url, "members", "event", hh, "product", "--product", "PLUS", "--on", boundary,
        "--reason", "choix du ménage", "--json",
    )  # fmt: skip
    assert code == 0, out
    assert json.loads(out)["payload"]["applied"] is False
    code, out = cli(database_url, "allocation", "run", "--json")
    assert json.loads(out)["product_changes"] == 0
    code, out = cli(
        database_url, "allocation", "run", "--now", f"{boundary}T08:00:00+00:00", "--json"
    )
    assert code == 0, out
    assert json.loads(out)["product_changes"] == 1
    db.rollback()
    with db.begin():
        product = db.scalars(
            select(Product.code).join(Household).where(Household.number == hh)
        ).one()
        assert product == "PLUS"
