"""`gateway payments import` (interfaces.md, Files: Payments; D2, D7, D8)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.cli import main
from gateway.models import Allocation, LedgerTransaction, Mutual, Payment
from gateway.services.members.importer import ImportErrors, import_members
from gateway.services.payments.history_import import import_payments
from tests.support.paths import DATA

PAYMENTS = DATA / "payments.csv"
HEADER = "household_number,amount,paid_on,channel,reference\n"


@pytest.fixture
def mutual_with_members(toml_mutual: Mutual, db: Session) -> Mutual:
    """Mutual TST with households H-001 (3 members), H-002 (indigent), H-003 (monthly)."""
    import_members(db, toml_mutual, DATA / "members.csv")
    return toml_mutual


def _count(db: Session, model: type[object]) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


def test_import_receives_each_payment(db: Session, mutual_with_members: Mutual) -> None:
    report = import_payments(db, mutual_with_members, PAYMENTS, today=dt.date(2026, 3, 1))
    assert (report.created, report.already_present, report.amount_created) == (3, 0, 25100)
    payments = {p.reference: p for p in db.scalars(select(Payment))}
    assert payments["OM-778899"].channel == "mobile"
    assert payments["OM-778899"].paid_on == dt.date(2026, 2, 3)
    assert payments["LEG-0001"].amount == 6000


def test_payments_are_allocated_in_date_order(db: Session, mutual_with_members: Mutual) -> None:
    """D7/D8 as if each payment arrived on its day: the 2025-12-20 line (last in the file)
    pays the registration fee that day; 2026 shares are allocated on 2026-01-10."""
    report = import_payments(db, mutual_with_members, PAYMENTS)
    assert report.references == ["LEG-0001", "REC-0001", "OM-778899"]
    allocations = db.scalars(select(Allocation).order_by(Allocation.id)).all()
    registration = [a for a in allocations if a.kind == "registration" and a.member_amount]
    assert [(a.household.number, a.member_amount, a.allocated_on) for a in registration] == [
        ("H-001", 500, dt.date(2025, 12, 20))
    ]
    shares = {a.allocated_on for a in allocations if a.kind == "contribution" and a.member_amount}
    assert dt.date(2026, 1, 10) in shares


def test_importing_twice_adds_nothing(db: Session, mutual_with_members: Mutual) -> None:
    """References are unique per mutual: a second import is a no-op."""
    import_payments(db, mutual_with_members, PAYMENTS)
    counts = (_count(db, Payment), _count(db, LedgerTransaction), _count(db, Allocation))
    report = import_payments(db, mutual_with_members, PAYMENTS)
    assert (report.created, report.already_present) == (0, 3)
    assert (_count(db, Payment), _count(db, LedgerTransaction), _count(db, Allocation)) == counts


def test_bad_lines_are_all_listed_and_nothing_imported(
    db: Session, mutual_with_members: Mutual
) -> None:
    """D2: whole XOF only; every bad line with its reason, and no payment at all."""
    with pytest.raises(ImportErrors) as raised:
        import_payments(db, mutual_with_members, DATA / "payments_bad.csv")
    amount = "amount: must be a whole number of XOF (digits only) from 1 to 1000000000000, got"
    assert raised.value.errors == [
        f"line 2: {amount} '100.5'",
        f"line 3: {amount} '1e3'",
        f"line 4: {amount} '-5'",
        f"line 5: {amount} ''",
        f"line 6: {amount} '10000000000000'",
        f"line 7: {amount} '0'",
        "line 8: paid_on: must be a date YYYY-MM-DD, got '10/01/2026'",
        "line 9: channel: must be one of cash, mobile, bank, legacy, got 'cheque'",
        "line 10: household_number: unknown household 'H-999'",
        "line 11: reference: required, at most 100 characters",
        "line 12: reference: 'R1' already on line 2",
    ]
    assert _count(db, Payment) == 0


def test_a_reference_recorded_with_other_details_is_refused(
    db: Session, mutual_with_members: Mutual
) -> None:
    import_payments(db, mutual_with_members, PAYMENTS)
    with pytest.raises(ImportErrors) as raised:
        import_payments(db, mutual_with_members, HEADER + "H-001,18000,2026-01-10,cash,REC-0001\n")
    assert raised.value.errors == [
        "line 2: reference: 'REC-0001' already recorded as 18500 XOF cash on 2026-01-10 for 'H-001'"
    ]


def test_a_payment_in_the_future_is_refused(db: Session, mutual_with_members: Mutual) -> None:
    with pytest.raises(ImportErrors) as raised:
        import_payments(db, mutual_with_members, PAYMENTS, today=dt.date(2026, 1, 31))
    assert raised.value.errors == ["line 3: paid_on: 2026-02-03 is in the future"]


def test_cli_payments_import(database_url: str, db: Session, mutual_with_members: Mutual) -> None:
    db.commit()
    env = {"DATABASE_URL": database_url, "GATEWAY_ENV": "test"}
    args = ["payments", "import", str(PAYMENTS), "--mutual", "TST"]
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 0, result.output
    assert "payments: 3 created (25100 FCFA), 0 already present" in result.output
    result = CliRunner().invoke(main, [*args, "--json"], env=env)
    assert json.loads(result.output)["already_present"] == 3
    bad = ["payments", "import", str(DATA / "payments_bad.csv"), "--mutual", "TST"]
    result = CliRunner().invoke(main, bad, env=env)
    assert result.exit_code == 1
    assert "line 9: channel" in result.output and "11 problem(s), nothing written" in result.output
