"""Agents (D19): `gateway agents add`, PIN hashing and the 3-tries / 15-minutes lock-out."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gateway.cli import main
from gateway.lib.phones import InvalidPhone
from gateway.models import Agent, Mutual
from gateway.services.agents.registry import (
    AgentError,
    add_agent,
    check_pin,
    check_pin_strength,
    verify_pin,
)
from tests.support.paths import DATA

T0 = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def agent(db: Session, toml_mutual: Mutual) -> Agent:
    return add_agent(db, toml_mutual, phone="70 00 00 01", name="Ali", role="collector", pin="2580")


def test_add_agent_normalises_and_hashes(agent: Agent) -> None:
    """D19: identified by phone (E.164) and PIN, stored hashed with a salt."""
    assert agent.msisdn == "+22670000001"
    assert agent.pin_hash.startswith("scrypt$16384$8$1$") and "2580" not in agent.pin_hash
    assert verify_pin(agent, "2580") and not verify_pin(agent, "2581")


def test_same_pin_gives_different_hashes(db: Session, toml_mutual: Mutual, agent: Agent) -> None:
    other = add_agent(db, toml_mutual, phone="70000002", name="Awa", role="facility", pin="2580")
    assert other.pin_hash.split("$")[4] != agent.pin_hash.split("$")[4]


def test_adding_again_updates_the_agent(db: Session, toml_mutual: Mutual, agent: Agent) -> None:
    """Idempotent by phone: same command, nothing changes; new values update the agent."""
    pin_hash = agent.pin_hash
    again = add_agent(
        db, toml_mutual, phone="+226 70 00 00 01", name="Ali", role="collector", pin="2580"
    )
    assert again is agent and agent.pin_hash == pin_hash
    add_agent(
        db,
        toml_mutual,
        phone="70000001",
        name="Ali K.",
        role="supervisor",
        pin="3690",
        section="Nord",
    )
    assert (agent.name, agent.role, agent.section is not None) == ("Ali K.", "supervisor", True)
    assert verify_pin(agent, "3690")
    assert db.scalar(select(func.count()).select_from(Agent)) == 1


@pytest.mark.parametrize("pin", ["123", "1234567", "12a4", "0000", "1234", "9876", "345678"])
def test_weak_or_malformed_pins_are_refused(pin: str) -> None:
    with pytest.raises(AgentError):
        check_pin_strength(pin)


def test_bad_definitions(db: Session, toml_mutual: Mutual) -> None:
    with pytest.raises(AgentError, match="role must be one of"):
        add_agent(db, toml_mutual, phone="70000009", name="X", role="boss", pin="2580")
    with pytest.raises(AgentError, match="unknown section 'Est'"):
        add_agent(
            db, toml_mutual, phone="70000009", name="X", role="collector", pin="2580", section="Est"
        )
    with pytest.raises(InvalidPhone):
        add_agent(db, toml_mutual, phone="12345", name="X", role="collector", pin="2580")


def test_right_pin(db: Session, agent: Agent) -> None:
    result = check_pin(db, agent, "2580", T0)
    assert (result.ok, result.status, result.tries_left) == (True, "ok", 3)


def test_three_wrong_tries_lock_for_fifteen_minutes(db: Session, agent: Agent) -> None:
    """D19: locked after 3 wrong tries; while locked even the right PIN is refused; after
    15 minutes the agent may try again."""
    assert check_pin(db, agent, "0000", T0).tries_left == 2
    assert check_pin(db, agent, "0000", T0).tries_left == 1
    third = check_pin(db, agent, "0000", T0 + dt.timedelta(minutes=1))
    assert (third.status, third.locked_until) == ("locked", T0 + dt.timedelta(minutes=16))
    db.expire_all()
    assert agent.failed_tries == 3 and agent.locked_until == T0 + dt.timedelta(minutes=16)
    assert check_pin(db, agent, "2580", T0 + dt.timedelta(minutes=15)).status == "locked"
    after = check_pin(db, agent, "2580", T0 + dt.timedelta(minutes=16))
    assert after.ok and agent.failed_tries == 0 and agent.locked_until is None


def test_a_right_pin_resets_the_count(db: Session, agent: Agent) -> None:
    check_pin(db, agent, "1111", T0)
    check_pin(db, agent, "1111", T0)
    assert check_pin(db, agent, "2580", T0).ok
    assert check_pin(db, agent, "1111", T0).tries_left == 2


def test_an_expired_lock_starts_a_fresh_count(db: Session, agent: Agent) -> None:
    for _ in range(3):
        check_pin(db, agent, "1111", T0)
    later = T0 + dt.timedelta(minutes=20)
    assert check_pin(db, agent, "1111", later).tries_left == 2


def test_inactive_agent_is_refused(db: Session, agent: Agent) -> None:
    agent.active = False
    assert check_pin(db, agent, "2580", T0).status == "inactive"


def test_cli_agents_add(engine: Engine, database_url: str) -> None:
    """`gateway agents add`; `engine` empties PostgreSQL afterwards."""
    env = {"DATABASE_URL": database_url, "GATEWAY_ENV": "test"}
    runner = CliRunner()
    assert (
        runner.invoke(main, ["mutual", "load", str(DATA / "mutual.toml")], env=env).exit_code == 0
    )
    args = ["agents", "add", "--mutual", "TST", "--phone", "70 00 00 01", "--name", "Ali"]
    args += ["--role", "collector", "--pin", "2580", "--section", "Nord"]
    result = runner.invoke(main, [*args, "--json"], env=env)
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert (shown["phone"], shown["role"], shown["section"]) == (
        "+22670000001",
        "collector",
        "Nord",
    )
    result = runner.invoke(main, [*args[:-4], "--pin", "1111"], env=env)
    assert result.exit_code == 1 and "PIN too easy to guess" in result.output
    result = runner.invoke(main, [*args[:3], "NOPE", *args[4:]], env=env)
    assert result.exit_code == 1 and "unknown mutual 'NOPE'" in result.output
