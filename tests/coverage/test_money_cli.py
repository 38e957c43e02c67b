"""`gateway allocation run [--mutual]` (D7: apply usable credit now) and `gateway payments
held | release` (a payment far above what a household could owe waits for an operator)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy.orm import Session

from gateway.cli import main
from gateway.models import Household
from gateway.services.coverage import receive_payment
from gateway.services.ledger import posting
from tests.support.factories import make_household, make_mutual

Invoke = Callable[..., Result]
NOW = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def run(cli_env: dict[str, str]) -> Invoke:
    def invoke(*args: str) -> Result:
        return CliRunner().invoke(main, list(args), env=cli_env)

    return invoke


def pay(db: Session, household: Household, amount: int, reference: str) -> None:
    receive_payment(
        db,
        household=household,
        amount=amount,
        paid_on=dt.date(2026, 1, 10),
        channel="cash",
        reference=reference,
        now=NOW,
    )


def test_allocation_run_applies_credit_that_became_usable(run: Invoke, db: Session) -> None:
    """D7: credit for two members, three enrolled; one leaves (behind the import's back, as
    a direct register edit would): `gateway allocation run` allocates at once, per mutual."""
    mutual = make_mutual(db, code="AR")
    household = make_household(db, mutual, members=3, number="AR-1")
    pay(db, household, 12000, "A")
    leaver = household.beneficiaries[2]
    leaver.status, leaver.left_on = "removed", dt.date(2026, 1, 5)
    db.commit()
    other = run("allocation", "run", "--mutual", "NOPE")
    assert other.exit_code == 1 and "unknown mutual 'NOPE'" in other.output
    result = run("allocation", "run", "--mutual", "AR", "--now", "2026-02-01T08:00", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["allocations"] == 2
    db.expire_all()
    assert posting.household_credit(db, mutual.id, household.id) == 0
    db.rollback()  # SQLite: the test's read holds the file's write lock (BEGIN IMMEDIATE)
    again = run("allocation", "run", "--now", "2026-02-01T08:00")
    assert again.exit_code == 0 and "allocations: 0" in again.output


def test_held_payment_listed_then_released(run: Invoke, db: Session) -> None:
    mutual = make_mutual(db, code="HP")
    household = make_household(db, mutual, number="HP-1")
    pay(db, household, 50000, "BIG-1")
    db.commit()
    listed = run("payments", "held", "--mutual", "HP", "--json")
    assert listed.exit_code == 0, listed.output
    [row] = json.loads(listed.output)
    assert (row["reference"], row["household"], row["amount"]) == ("BIG-1", "HP-1", 50000)
    assert "30000 XOF" in row["reason"]
    missing = run("payments", "release", "NOPE", "--mutual", "HP", "--by", "Awa")
    assert missing.exit_code == 1 and "no payment 'NOPE' in mutual HP" in missing.output
    blank = run("payments", "release", "BIG-1", "--mutual", "HP", "--by", " ")
    assert blank.exit_code == 2 and "must name who decided" in blank.output
    released = run("payments", "release", "BIG-1", "--mutual", "HP", "--by", "Awa")
    assert released.exit_code == 0, released.output
    assert "credited to household HP-1" in released.output
    twice = run("payments", "release", "BIG-1", "--mutual", "HP", "--by", "Awa")
    assert twice.exit_code == 1 and "is not held" in twice.output
    assert "no payment held" in run("payments", "held", "--mutual", "HP").output
    db.expire_all()
    assert posting.household_credit(db, mutual.id, household.id) == 50000 - 30000


def test_payments_import_says_which_payments_are_held(
    run: Invoke, db: Session, tmp_path: Path
) -> None:
    mutual = make_mutual(db, code="PI")
    make_household(db, mutual, number="PI-1")
    db.commit()
    path = tmp_path / "payments.csv"
    path.write_text(
        "household_number,amount,paid_on,channel,reference\n"
        "PI-1,6000,2026-01-10,cash,OK-1\nPI-1,900000,2026-01-11,bank,TYPO-1\n"
    )
    result = run("payments", "import", str(path), "--mutual", "PI")
    assert result.exit_code == 0, result.output
    assert "held: payment TYPO-1 is far above" in result.output
    assert "gateway payments release TYPO-1 --mutual PI" in result.output
