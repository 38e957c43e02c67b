"""`gateway demo` (interfaces.md): the demo mutual and members, deterministic and idempotent."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gateway.cli import main
from gateway.cli.context import CliContext
from gateway.clock import FixedClock
from gateway.demo import load_demo, seed
from gateway.models import (
    Agent,
    Allocation,
    Beneficiary,
    Household,
    HouseholdPhone,
    LedgerTransaction,
    Mutual,
    Payment,
)
from gateway.services.agents.registry import verify_pin
from gateway.services.coverage.query import coverage

TODAY = dt.date(2026, 11, 24)
TABLES = (Household, Beneficiary, HouseholdPhone, Payment, Allocation, LedgerTransaction, Agent)


def _snapshot(db: Session) -> list[Any]:
    return [
        [tuple(r) for r in db.execute(select(t.__table__).order_by(t.__table__.c.id))]
        for t in TABLES
    ]


def test_demo_loads_a_varied_mutual(db: Session) -> None:
    """The demo shows what the gateway is for: covered, lapsed, never-paid and subsidised
    households (D3, D11, D12), leavers, and one agent of each role (D19)."""
    report = load_demo(db, TODAY)
    mutual = db.scalars(select(Mutual).where(Mutual.code == "DEMO")).one()
    assert (mutual.country, mutual.timezone, mutual.languages) == (
        "BF",
        "Africa/Ouagadougou",
        ["fr", "en"],
    )
    product = mutual.products[0]
    assert (product.contribution, product.registration_fee, product.levies[0].basis_points) == (
        7000,
        1000,
        300,
    )
    assert report.members.households_created == 100
    assert 250 <= report.members.beneficiaries_created <= 600
    assert report.payments.created > 100 and report.automatic_allocations > 0
    assert report.members.warnings == []
    statuses = Counter(coverage(db, str(n), TODAY)["status"] for n in range(10001, 10101))
    assert statuses["UP_TO_DATE"] > 30 and statuses["NOT_UP_TO_DATE"] > 20
    categories = Counter(db.scalars(select(Household.category)))
    assert categories["indigent"] > 0 and categories["subsidised"] > 0
    leavers = Counter(db.scalars(select(Beneficiary.status)))
    assert leavers["removed"] + leavers["deceased"] > 0


def test_demo_agents_have_the_printed_pins(db: Session) -> None:
    report = load_demo(db, TODAY)
    agents = {a.msisdn: a for a in db.scalars(select(Agent))}
    assert {a.role for a in agents.values()} == {"collector", "facility", "supervisor"}
    for shown in report.agents:
        assert isinstance(shown["phone"], str) and isinstance(shown["pin"], str)
        assert verify_pin(agents[shown["phone"]], shown["pin"])


def test_second_run_changes_nothing(db: Session) -> None:
    load_demo(db, TODAY)
    db.commit()
    before = _snapshot(db)
    again = load_demo(db, TODAY)
    assert again.created == 0
    assert again.payments.already_present == len(before[3])
    assert _snapshot(db) == before


def test_a_run_in_a_later_year_keeps_the_same_members_and_history(db: Session) -> None:
    """Dates hang on the year of the first load, so later runs add no member or payment
    (fully subsidised households may get their new year's automatic allocation, D3)."""
    load_demo(db, TODAY)
    later = load_demo(db, dt.date(2028, 2, 1))
    assert (later.members.beneficiaries_created, later.members.beneficiaries_updated) == (0, 0)
    assert later.payments.created == 0


def test_generation_is_deterministic() -> None:
    first = seed._members_csv(seed._families(random.Random(42), 2026))
    second = seed._members_csv(seed._families(random.Random(42), 2026))
    assert first == second
    assert seed._members_csv(seed._families(random.Random(7), 2026)) != first


def test_cli_demo(engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`gateway demo` uses the clock, prints the agents' PINs, and is idempotent (`engine`
    empties PostgreSQL afterwards)."""
    monkeypatch.setattr(CliContext, "clock", FixedClock(dt.datetime(2026, 11, 24, tzinfo=dt.UTC)))
    env = {"DATABASE_URL": database_url, "GATEWAY_ENV": "test"}
    result = CliRunner().invoke(main, ["demo"], env=env)
    assert result.exit_code == 0, result.output
    assert "collector  +22670000001  PIN 2580" in result.output
    assert "supervisor +22670000003  PIN 3690" in result.output
    result = CliRunner().invoke(main, ["demo"], env=env)
    assert "demo mutual DEMO: 0 rows created" in result.output
