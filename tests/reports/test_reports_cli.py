"""`gateway funders | levies | lists | cards` (issue 17): the same services from the command
line; refusals are one line and exit 1 with nothing written; `gateway ledger check` passes
after the payments (acceptance 2)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from pypdf import PdfReader
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.cli import main
from gateway.cli.context import CliContext
from gateway.clock import FixedClock
from gateway.models import FunderPayment, LevyRemittance, Mutual
from gateway.services import reports
from tests.support.paths import DATA
from tests.support.reports import build

Invoke = Callable[..., Result]
NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def run(cli_env: dict[str, str], db: Session, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    build(db)
    db.commit()
    monkeypatch.setattr(CliContext, "clock", FixedClock(NOW))

    def invoke(*args: str) -> Result:
        db.rollback()
        return CliRunner().invoke(main, list(args), env=cli_env)

    return invoke


def _ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.output


def test_funder_statement_and_payments(run: Invoke, db: Session, tmp_path: Path) -> None:
    claim = tmp_path / "claim.csv"
    base = ("--mutual", "MUT", "--funder", "ETAT", "--period", "2026")
    out = _ok(run("funders", "statement", *base, "--csv", str(claim)))
    assert "ETAT 2026: 2 household(s), 3 beneficiary(ies), owed 13500 XOF" in out
    assert claim.read_text().count("\n") == 6
    pay = ("funders", "pay", *base, "--by", "fin")
    out = _ok(run(*pay, "--amount", "5000", "--reference", "VIR-1"))
    assert "payment VIR-1 of 5000 XOF recorded" in out and "outstanding 8500 XOF" in out
    assert "already recorded" in _ok(run(*pay, "--amount", "5000", "--reference", "VIR-1"))
    refused = run(*pay, "--amount", "9000", "--reference", "VIR-2")
    assert refused.exit_code == 1
    assert "overpayment refused: ETAT owes 8500 XOF for 2026" in refused.output
    assert db.scalar(select(func.count()).select_from(FunderPayment)) == 1
    _ok(run(*pay, "--amount", "8500", "--reference", "VIR-2", "--on", "2026-02-20"))
    assert "ledger ok" in _ok(run("ledger", "check"))
    db.rollback()
    mutual = db.scalars(select(Mutual).where(Mutual.code == "MUT")).one()
    state = reports.funder_by_code(db, mutual, "ETAT")
    assert reports.receivable_position(db, state) == (0, 0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--funder", "NOPE", "--period", "2026"), "unknown funder 'NOPE'"),
        (("--funder", "ETAT", "--period", "26"), "must be a year"),
        (("--funder", "ETAT", "--period", "2026", "--amount", "0"), "above 0"),
    ],
)
def test_funder_refusals(run: Invoke, args: tuple[str, ...], message: str) -> None:
    command = "pay" if "--amount" in args else "statement"
    extra = ("--reference", "R", "--by", "fin") if command == "pay" else ()
    result = run("funders", command, "--mutual", "MUT", *args, *extra)
    assert result.exit_code == 1 and message in result.output
    assert run("funders", "statement", "--mutual", "NOPE", *args[:4]).exit_code == 1


def test_levy_statement_and_remittance(run: Invoke, db: Session, tmp_path: Path) -> None:
    base = ("--mutual", "MUT", "--levy", "FGN", "--period", "2026")
    out = _ok(run("levies", "statement", *base, "--csv", str(tmp_path / "fgn.csv")))
    assert "FGN 2026: owed 720 XOF, remitted 0 XOF, outstanding 720 XOF" in out
    remit = ("levies", "remit", *base, "--by", "fin", "--reference", "FGN-1")
    assert "outstanding 0 XOF" in _ok(run(*remit, "--amount", "720"))
    assert "already recorded" in _ok(run(*remit, "--amount", "720"))
    again = run("levies", "remit", *base, "--by", "f", "--reference", "FGN-2", "--amount", "1")
    assert again.exit_code == 1 and "over-remittance refused" in again.output
    assert db.scalar(select(func.count()).select_from(LevyRemittance)) == 1
    unknown = run("levies", "statement", "--mutual", "MUT", "--levy", "X", "--period", "2026")
    assert unknown.exit_code == 1 and "unknown levy 'X'" in unknown.output
    assert "ledger ok" in _ok(run("ledger", "check"))


def test_lists_write_the_golden_csv(run: Invoke, tmp_path: Path) -> None:
    owing = tmp_path / "owing.csv"
    out = _ok(
        run("lists", "defaulters", "--mutual", "MUT", "--period", "2027", "--csv", str(owing))
    )
    assert "3 household(s), 31000 XOF offered" in out
    assert owing.read_text() == (DATA / "reports" / "defaulters_2027.csv").read_text()
    today = _ok(run("lists", "defaulters", "--mutual", "MUT", "--section", "Nord"))
    assert "1 household(s), 19000 XOF offered" in today
    covered = tmp_path / "covered.csv"
    _ok(run("lists", "covered", "--mutual", "MUT", "--period", "2026-04", "--csv", str(covered)))
    assert covered.read_text() == (DATA / "reports" / "covered_2026-04.csv").read_text()
    assert "0 beneficiary(ies) covered in 2026-03-02" in _ok(
        run("lists", "covered", "--mutual", "MUT")
    )
    sud = _ok(
        run(
            "lists",
            "covered",
            "--mutual",
            "MUT",
            "--facility",
            "+22671000246",
            "--period",
            "2026-04",
        )
    )
    assert "100401" in sud and "1 beneficiary(ies)" in sud
    for phone, message in (("+22670000001", "no facility agent"), ("12", "--facility")):
        wrong = run("lists", "covered", "--mutual", "MUT", "--facility", phone)
        assert wrong.exit_code == 1 and message in wrong.output
    both = run(
        "lists", "covered", "--mutual", "MUT", "--section", "Sud", "--facility", "+22671000246"
    )
    assert both.exit_code == 2
    bad = run("lists", "covered", "--mutual", "MUT", "--section", "Est")
    assert bad.exit_code == 1 and "unknown section 'Est'" in bad.output


def test_cards_for_a_household_and_a_section(run: Invoke, tmp_path: Path) -> None:
    one = tmp_path / "one.pdf"
    assert "2 card(s), 1 household(s)" in _ok(
        run("cards", "--mutual", "MUT", "--household", "1001", "--out", str(one))
    )
    section = tmp_path / "nord.pdf"
    assert "6 card(s), 3 household(s)" in _ok(
        run("cards", "--mutual", "MUT", "--section", "Nord", "--out", str(section))
    )
    assert len(PdfReader(section).pages) == 3
    both = run("cards", "--mutual", "MUT", "--out", str(one))
    assert both.exit_code == 2 and "exactly one of" in both.output
    missing = run("cards", "--mutual", "MUT", "--household", "9", "--out", str(tmp_path / "x.pdf"))
    assert missing.exit_code == 1 and "unknown household '9'" in missing.output
    assert not (tmp_path / "x.pdf").exists()
