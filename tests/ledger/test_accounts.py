"""The chart of accounts (payments.md, "Ledger"): the names it builds are the contract with the
data already posted, and no production module spells an account name itself."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import Account
from gateway.models.ledger import ACCOUNT_KINDS
from gateway.services import ledger
from gateway.services.ledger import posting
from gateway.services.ledger.errors import LedgerError
from tests.support.factories import make_mutual
from tests.support.paths import ROOT
from tests.support.source_scan import literals, production_files

accounts = ledger.accounts


def test_account_kind_is_the_name_prefix() -> None:
    """Accounts per mutual are named `<kind>:...` (payments.md)."""
    assert ledger.account_kind("liab:household:17") == "liab"
    assert ledger.account_kind("asset:bank") == "asset"
    for bad in ("bank", "assets:bank", "asset:", ":bank", ""):
        with pytest.raises(LedgerError):
            ledger.account_kind(bad)


def test_the_chart_spells_the_names_of_payments_md() -> None:
    assert accounts.household(17) == "liab:household:17"
    assert accounts.provider_float("orange") == "asset:float:orange"
    assert accounts.agent_cash(4) == "asset:agent_cash:4"
    assert accounts.cash() == "asset:cash"
    assert accounts.bank() == "asset:bank"
    assert accounts.receivable("etat") == "asset:receivable:etat"
    assert accounts.receivable(None) == "asset:receivable:unassigned"
    assert accounts.receivable("") == "asset:receivable:unassigned"
    assert accounts.suspense("mtnmomo") == "liab:suspense:mtnmomo"
    assert accounts.levy("fgn") == "liab:levy:fgn"
    assert accounts.contributions() == "income:contributions"
    assert accounts.registration_fees() == "income:registration_fees"
    assert accounts.provider_fees() == "expense:provider_fees"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("liab:household:17", 17),
        ("liab:household:x", None),
        ("liab:household:", None),
        ("liab:levy:17", None),
        ("asset:bank", None),
    ],
)
def test_household_id_reads_back_a_household_account(name: str, expected: int | None) -> None:
    assert accounts.household_id(name) == expected


def test_household_accounts_selects_only_household_credit(db: Session) -> None:
    mutual = make_mutual(db)
    for name in ("liab:household:1", "liab:household:22", "liab:householdx:3", "asset:bank"):
        posting.get_account(db, mutual.id, name)
    found = db.scalars(select(Account.name).where(accounts.household_accounts()))
    assert sorted(found) == ["liab:household:1", "liab:household:22"]


NAME = re.compile(rf"(?:{'|'.join(ACCOUNT_KINDS)}):")
HOME = ROOT / "gateway" / "services" / "ledger" / "accounts.py"


def spelled_account_names(paths: list[Path]) -> list[str]:
    """Literals that start like an account name, outside the chart (a name inside prose does
    not start its string)."""
    return literals(paths, lambda text: NAME.match(text) is not None, home=HOME)


def test_account_names_are_built_by_the_chart_only() -> None:
    assert spelled_account_names(production_files()) == []


def test_a_planted_account_name_is_found(tmp_path: Path) -> None:
    planted = tmp_path / "copy.py"
    planted.write_text('"""Dr asset:bank."""\nNAME = f"liab:household:{7}"\n', encoding="utf-8")
    assert spelled_account_names([planted]) == [f"{planted}:2 'liab:household:'"]
