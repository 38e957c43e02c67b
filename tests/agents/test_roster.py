"""The roster's upkeep (D19; issue 16): deactivate, reactivate, unlock and reset a PIN through
gateway.services.agents, from `gateway agents deactivate|activate|unlock|reset-pin` (the
console's agents page calls the same services: tests/console/test_agents_page.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session

from gateway.cli import main
from gateway.models import Agent
from gateway.services.agents import add_agent, check_pin
from gateway.services.agents.registry import LOCK_FOR
from tests.support.factories import make_mutual

T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def agent_id(db: Session) -> int:
    mutual = make_mutual(db)
    agent = add_agent(db, mutual, phone="70000001", name="Ali", role="collector", pin="2580")
    agent.failed_tries, agent.locked_until = 3, T0 + LOCK_FOR
    db.commit()
    return agent.id


def _run(cli_env: dict[str, str], *args: str, given: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["agents", *args], env=cli_env, input=given)
    return result.exit_code, result.output


def test_unlock_deactivate_activate(db: Session, agent_id: int, cli_env: dict[str, str]) -> None:
    who = ("--mutual", "MUT", "--phone", "70 00 00 01")
    assert _run(cli_env, "unlock", *who) == (0, "agent 70 00 00 01 unlocked\n")
    assert _run(cli_env, "unlock", *who)[1] == "agent 70 00 00 01 was not locked\n"
    agent = db.get_one(Agent, agent_id)
    assert check_pin(db, agent, "2580", T0).ok
    db.commit()
    assert _run(cli_env, "deactivate", *who)[1].endswith("deactivated\n")
    assert _run(cli_env, "deactivate", *who)[1].endswith("was already inactive\n")
    db.expire_all()
    assert check_pin(db, db.get_one(Agent, agent_id), "2580", T0).status == "inactive"
    db.commit()
    assert _run(cli_env, "activate", *who)[1].endswith("reactivated\n")
    assert _run(cli_env, "activate", *who)[1].endswith("was already active\n")
    db.expire_all()
    assert db.get_one(Agent, agent_id).active
    db.rollback()


def test_reset_pin_reads_stdin_and_checks_strength(
    db: Session, agent_id: int, cli_env: dict[str, str]
) -> None:
    who = ("--mutual", "MUT", "--phone", "70000001")
    code, output = _run(cli_env, "reset-pin", *who, given="1111\n1111\n")
    assert code == 1 and "too easy" in output
    code, output = _run(cli_env, "reset-pin", *who, given="8264\n8264\n")
    assert code == 0 and output.endswith("new PIN saved\n") and "8264" not in output
    db.expire_all()
    agent = db.get_one(Agent, agent_id)
    assert agent.locked_until is None and "8264" not in agent.pin_hash
    assert check_pin(db, agent, "8264", T0).ok
    db.rollback()


def test_unknown_agent_or_phone(db: Session, agent_id: int, cli_env: dict[str, str]) -> None:
    code, output = _run(cli_env, "unlock", "--mutual", "MUT", "--phone", "70000099")
    assert code == 1 and "no agent with phone 70000099 in MUT" in output
    code, output = _run(cli_env, "unlock", "--mutual", "MUT", "--phone", "12")
    assert code == 1
    code, output = _run(cli_env, "unlock", "--mutual", "NOPE", "--phone", "70000001")
    assert code == 1 and "unknown mutual" in output
