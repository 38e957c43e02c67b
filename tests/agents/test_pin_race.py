"""D19 under concurrency (issue 15, point 6): a burst of wrong PINs for one agent, each hop in
its own session and thread, gets at most LOCK_AFTER comparisons; then the agent is locked and
the right PIN is refused until the lock runs out. Runs on PostgreSQL when DATABASE_URL is set
(row lock), on SQLite otherwise (BEGIN IMMEDIATE)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from gateway.db import make_engine, make_session_factory
from gateway.models import Agent, Mutual
from gateway.services.agents import registry
from gateway.services.agents.registry import LOCK_AFTER, LOCK_FOR, add_agent, check_pin

T0 = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
GUESSES = 50


@pytest.fixture
def wide_factory(database_url: str, engine: Engine) -> Iterator[sessionmaker[Session]]:
    """A pool as wide as the burst, so that every guess is in flight at once."""
    wide = make_engine(database_url, pool_size=GUESSES, max_overflow=0)
    yield make_session_factory(wide)
    wide.dispose()


def test_concurrent_wrong_pins_are_checked_at_most_lock_after_times(
    db: Session,
    toml_mutual: Mutual,
    wide_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    agent = add_agent(db, toml_mutual, phone="70000001", name="Ali", role="collector", pin="2580")
    db.commit()
    compared = []
    original = registry.verify_pin

    def counting(agent: Agent, pin: str) -> bool:
        compared.append(pin)
        return original(agent, pin)

    monkeypatch.setattr(registry, "verify_pin", counting)
    start = threading.Barrier(GUESSES)

    def guess(i: int) -> str:
        start.wait()
        with wide_factory() as session:
            mine = session.get_one(Agent, agent.id)
            result = check_pin(session, mine, f"{1000 + 7 * i:04d}", T0)
            session.commit()
            return result.status

    with ThreadPoolExecutor(GUESSES) as pool:
        statuses = list(pool.map(guess, range(GUESSES)))

    assert len(compared) <= LOCK_AFTER
    assert statuses.count("wrong") == LOCK_AFTER - 1
    assert statuses.count("locked") == GUESSES - (LOCK_AFTER - 1)
    with wide_factory() as session:
        mine = session.get_one(Agent, agent.id)
        assert mine.failed_tries == LOCK_AFTER and mine.locked_until is not None
        assert check_pin(session, mine, "2580", T0 + LOCK_FOR / 2).status == "locked"
        assert check_pin(session, mine, "2580", T0 + LOCK_FOR).ok  # the lock has run out
        session.commit()
    assert len(compared) == LOCK_AFTER + 1


def test_a_stale_copy_does_not_reset_the_count(
    db: Session, toml_mutual: Mutual, wide_factory: sessionmaker[Session]
) -> None:
    """A hop that loaded the agent before others failed sees their failures, not its copy."""
    agent = add_agent(db, toml_mutual, phone="70000001", name="Ali", role="collector", pin="2580")
    db.commit()
    with wide_factory() as stale:
        copy = stale.get_one(Agent, agent.id)  # read now: failed_tries 0
        stale.commit()
        for _ in range(LOCK_AFTER):
            with wide_factory() as other:
                check_pin(other, other.get_one(Agent, agent.id), "1357", T0)
                other.commit()
        assert copy.failed_tries == 0
        assert check_pin(stale, copy, "2580", T0).status == "locked"
