"""`gateway ledger balance | check` (interfaces.md; payments.md, "Ledger": a check command audits
the invariants and fails on any breach)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gateway.cli import main
from gateway.models import Household, Mutual
from gateway.services import ledger
from gateway.services.ledger import posting
from tests.support.factories import make_household, make_mutual
from tests.support.ledger import DAY, pay, tamper

Invoke = Callable[..., Result]


@pytest.fixture
def run(database_url: str, tmp_path: Path) -> Invoke:
    env = {
        "DATABASE_URL": database_url,
        "GATEWAY_ENV": "test",
        "GATEWAY_VAR_DIR": str(tmp_path / "var"),
    }

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(main, ["ledger", *args], env=env)

    return invoke


@pytest.fixture
def household(db: Session) -> Household:
    """Household 1001 of MUT with 6 000 XOF received, 2 500 allocated."""
    mutual = make_mutual(db)
    household = make_household(db, mutual, number="1001")
    pay(db, mutual, household.id, 6000, "pay:1")
    posting.post(
        db,
        mutual_id=mutual.id,
        key="alloc:1",
        kind="allocation",
        occurred_on=DAY,
        lines=[(ledger.accounts.household(household.id), 2500), ("income:contributions", -2500)],
    )
    db.commit()
    return household


def test_household_balance_is_its_credit(run: Invoke, household: Household) -> None:
    """Household credit: received, not yet allocated (payments.md)."""
    account = f"liab:household:{household.id}"
    result = run("balance", "--household", "1001")
    assert result.exit_code == 0, result.output
    assert result.output == f"household 1001 (MUT): credit 3500 XOF [{account}]\n"
    result = run("balance", "--household", "1001", "--json")
    assert json.loads(result.output) == {"account": account, "mutual": "MUT", "balance": 3500}


def test_account_balance_is_signed(run: Invoke, household: Household) -> None:
    """Balances are sums of entries, debit positive (payments.md)."""
    result = run("balance", "--account", "asset:float:sandbox", "--json")
    assert json.loads(result.output) == {
        "account": "asset:float:sandbox",
        "mutual": "MUT",
        "balance": 6000,
    }
    result = run("balance", "--account", "income:contributions")
    assert (result.exit_code, result.output) == (0, "income:contributions (MUT): -2500 XOF\n")


@pytest.mark.parametrize(
    "args", [[], ["--household", "1001", "--account", "asset:bank"], ["--account", "bank"]]
)
def test_balance_usage_errors(run: Invoke, household: Household, args: list[str]) -> None:
    """Bad input exits non-zero with a one-line reason (interfaces.md)."""
    result = run("balance", *args)
    assert result.exit_code == 2
    assert "--household" in result.output or "asset|liab" in result.output


def test_unknown_household_fails_with_a_reason(run: Invoke, household: Household) -> None:
    result = run("balance", "--household", "9999")
    assert result.exit_code == 1
    assert "unknown household '9999'" in result.output


def test_ambiguous_number_or_account_needs_the_mutual(
    run: Invoke, db: Session, household: Household
) -> None:
    """Household numbers are unique per mutual only (domain)."""
    other = make_mutual(db, code="OTHER")
    pay(db, other, make_household(db, other, number="1001").id, 700, "pay:1")
    db.commit()
    result = run("balance", "--household", "1001")
    assert result.exit_code == 1
    assert "several mutuals (MUT, OTHER)" in result.output
    result = run("balance", "--household", "1001", "--mutual", "OTHER", "--json")
    assert json.loads(result.output)["balance"] == 700
    result = run("balance", "--account", "asset:bank")
    assert result.exit_code == 1 and "give --mutual" in result.output
    result = run("balance", "--account", "asset:bank", "--mutual", "NOPE")
    assert result.exit_code == 1 and "unknown mutual 'NOPE'" in result.output


def test_check_passes_on_a_clean_ledger(run: Invoke, household: Household) -> None:
    result = run("check")
    assert (result.exit_code, result.output) == (0, "ledger ok: 2 transactions, 4 entries\n")
    report = json.loads(run("check", "--json").output)
    assert report == {"ok": True, "transactions": 2, "entries": 4, "breaches": []}


def test_check_fails_naming_the_breach(
    run: Invoke, db: Session, engine: Engine, household: Household
) -> None:
    """A failed audit alerts (payments.md): exit 1 and one line per breach."""
    mutual = db.get_one(Mutual, household.mutual_id)
    txn = pay(db, mutual, household.id, 100, "pay:2")
    db.commit()
    tamper(engine, "UPDATE ledger_entries SET amount = 1 WHERE id = :id", id=txn.entries[0].id)
    result = run("check")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and all(f"#{txn.id} 'pay:2' (mutual MUT)" in line for line in lines)
    report = json.loads(run("check", "--json").stdout)
    assert report["ok"] is False and report["breaches"] == lines
