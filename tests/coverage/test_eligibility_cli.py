"""`gateway eligibility` (interfaces.md): JSON shape, --on, unknown numbers, bad input."""

from __future__ import annotations

import datetime as dt
import json

from click.testing import CliRunner
from sqlalchemy.orm import Session

from gateway.cli import main
from gateway.services.coverage.allocation import receive_payment
from tests.support.factories import add_beneficiary, make_household, make_mutual


def run(database_url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        main, list(args), env={"DATABASE_URL": database_url, "GATEWAY_ENV": "test"}
    )
    return result.exit_code, result.output


def test_eligibility_json_for_household_and_beneficiary(db: Session, database_url: str) -> None:
    """D11/D12 through the public command, on a chosen date."""
    mutual = make_mutual(db)
    household = make_household(db, mutual, number="20001")
    child = add_beneficiary(db, household, enrolled_on=dt.date(2025, 12, 1))
    receive_payment(
        db,
        household=household,
        amount=12000,
        paid_on=dt.date(2026, 1, 10),
        channel="cash",
        reference="R1",
    )
    db.commit()
    code, out = run(database_url, "eligibility", "20001", "--on", "2026-02-01", "--json")
    assert code == 0, out
    data = json.loads(out)
    assert {k: data[k] for k in ("number", "kind", "status", "until", "from", "amount_due")} == {
        "number": "20001",
        "kind": "household",
        "status": "NOT_UP_TO_DATE",
        "until": None,
        "from": "2026-03-11",
        "amount_due": 0,
    }
    assert data["members"][1] == {
        "number": child.number,
        "status": "WAITING",
        "until": None,
        "from": "2026-03-11",
    }
    code, out = run(database_url, "eligibility", child.number, "--on", "2026-06-01", "--json")
    data = json.loads(out)
    assert (data["kind"], data["status"], data["until"]) == ("beneficiary", "COVERED", "2026-12-31")
    code, out = run(database_url, "eligibility", "20001", "--on", "2026-06-01")
    assert code == 0 and "household 20001: UP_TO_DATE until 2026-12-31" in out


def test_eligibility_unknown_number_and_bad_input(db: Session, database_url: str) -> None:
    make_mutual(db)
    db.commit()
    code, out = run(database_url, "eligibility", "424242", "--json")
    assert code == 0 and json.loads(out)["status"] == "UNKNOWN"
    code, out = run(database_url, "eligibility", "424242", "--on", "2026-13-01")
    assert code == 2 and "--on" in out
    code, out = run(database_url, "eligibility", "424242", "--mutual", "NOPE")
    assert code == 1 and "unknown mutual 'NOPE'" in out


def test_coverage_snapshots_builds_every_households_snapshot(
    db: Session, database_url: str
) -> None:
    """Issue 19: after the migration, `gateway coverage snapshots` builds what hops read."""
    from sqlalchemy import delete, func, select

    from gateway.models import CoverageSnapshot

    mutual = make_mutual(db, "SNAPCLI")
    make_household(db, mutual)
    make_household(db, mutual)
    db.commit()
    db.execute(delete(CoverageSnapshot))
    db.commit()
    code, out = run(database_url, "coverage", "snapshots", "--mutual", "SNAPCLI")
    assert code == 0, out
    assert "2 households" in out
    assert db.scalar(select(func.count()).select_from(CoverageSnapshot)) == 2
    code, out = run(database_url, "coverage", "snapshots", "--mutual", "NOPE")
    assert code != 0
