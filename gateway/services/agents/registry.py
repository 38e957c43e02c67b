"""Agents (D19): collectors, facility staff and supervisors, identified by phone and PIN.

PINs are stored as salted scrypt hashes (`scrypt$n$r$p$salt$hash`); three wrong tries lock
the agent for 15 minutes. The USSD channel calls `check_pin`; the command line `add_agent`."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import itertools
import re
import secrets
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.lib.phones import mask_msisdn, normalize_msisdn
from gateway.models import Agent, Mutual
from gateway.models.agent import ROLES

LOCK_AFTER = 3  # wrong tries (D19)
LOCK_FOR = dt.timedelta(minutes=15)
# scrypt cost: about 16 MiB and a few tens of milliseconds per check, fine for a USSD hop.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
_PIN = re.compile(r"[0-9]{4,6}")


class AgentError(ValueError):
    """A bad agent definition; the message says what to fix."""


@dataclass(frozen=True)
class PinResult:
    status: Literal["ok", "wrong", "locked", "inactive"]
    tries_left: int
    locked_until: dt.datetime | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def add_agent(
    session: Session,
    mutual: Mutual,
    *,
    phone: str,
    name: str,
    role: str,
    pin: str,
    section: str | None = None,
) -> Agent:
    """Create the agent, or update the one with that phone (same mutual): running the same
    command twice changes nothing, and a new PIN also lifts a lock."""
    if role not in ROLES:
        raise AgentError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    if not name.strip() or len(name.strip()) > 200:
        raise AgentError("name is required (at most 200 characters)")
    check_pin_strength(pin)
    msisdn = normalize_msisdn(phone, mutual.country)
    section_id = _section_id(mutual, section)
    agent = session.scalars(select(Agent).where(Agent.msisdn == msisdn)).one_or_none()
    if agent is not None and agent.mutual_id != mutual.id:
        raise AgentError(f"phone {mask_msisdn(msisdn)} is already an agent of another mutual")
    if agent is None:
        agent = Agent(mutual_id=mutual.id, msisdn=msisdn, pin_hash="", failed_tries=0)
        session.add(agent)
    values = {"name": name.strip(), "role": role, "section_id": section_id, "active": True}
    for key, value in values.items():
        if getattr(agent, key) != value:
            setattr(agent, key, value)
    if not verify_pin(agent, pin):
        agent.pin_hash = hash_pin(pin)
        agent.failed_tries, agent.locked_until = 0, None
    session.flush()
    return agent


def check_pin_strength(pin: str) -> None:
    """4 to 6 digits, not one repeated digit nor a straight run (1234, 9876)."""
    if not _PIN.fullmatch(pin):
        raise AgentError("PIN must be 4 to 6 digits")
    steps = {int(b) - int(a) for a, b in itertools.pairwise(pin)}
    if steps in ({0}, {1}, {-1}):
        raise AgentError("PIN too easy to guess: no repeated digit or straight run")


def hash_pin(pin: str) -> str:
    salt = secrets.token_bytes(16)
    digest = _scrypt(pin, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_pin(agent: Agent, pin: str) -> bool:
    """Constant-time comparison against the stored hash; a malformed hash never matches."""
    try:
        scheme, n, r, p, salt, digest = (agent.pin_hash or "").split("$")
        expected = bytes.fromhex(digest)
        actual = _scrypt(pin, bytes.fromhex(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return scheme == "scrypt" and hmac.compare_digest(actual, expected)


def check_pin(session: Session, agent: Agent, pin: str, now: dt.datetime) -> PinResult:
    """D19: a locked agent is refused without checking the PIN; the third wrong try in a row
    locks for 15 minutes; a right PIN clears the count. The caller commits either way.

    The agent's row is locked and re-read first (SELECT ... FOR UPDATE on PostgreSQL; SQLite's
    BEGIN IMMEDIATE already serialises writers), so concurrent hops for one agent check the
    lock, compare the PIN and count the failure one after another: a burst of guesses gets
    at most LOCK_AFTER comparisons, never a count overwritten by a stale copy."""
    if now.tzinfo is None:
        raise ValueError("check_pin needs a timezone-aware time")
    _lock_row(session, agent)
    if not agent.active:
        return PinResult("inactive", 0)
    if agent.locked_until is not None:
        if now < agent.locked_until:
            return PinResult("locked", 0, agent.locked_until)
        agent.failed_tries, agent.locked_until = 0, None  # the lock has run out
    if verify_pin(agent, pin):
        if agent.failed_tries:
            agent.failed_tries = 0
        session.flush()
        return PinResult("ok", LOCK_AFTER)
    agent.failed_tries += 1
    if agent.failed_tries >= LOCK_AFTER:
        agent.locked_until = now + LOCK_FOR
    session.flush()
    if agent.locked_until is not None:
        return PinResult("locked", 0, agent.locked_until)
    return PinResult("wrong", LOCK_AFTER - agent.failed_tries)


def _lock_row(session: Session, agent: Agent) -> None:
    """Take the agent's row lock until the caller commits, and refresh the loaded copy with
    the committed count and lock (populate_existing overwrites what this session read)."""
    query = (
        select(Agent)
        .where(Agent.id == agent.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    session.execute(query).one()


def _scrypt(pin: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(pin.encode(), salt=salt, n=n, r=r, p=p, dklen=32, maxmem=64 * 2**20)


def _section_id(mutual: Mutual, name: str | None) -> int | None:
    if not name:
        return None
    for section in mutual.sections:
        if section.name == name:
            return section.id
    known = ", ".join(s.name for s in mutual.sections) or "none"
    raise AgentError(f"unknown section {name!r} (sections of {mutual.code}: {known})")


# --- the roster's upkeep (the console's agents page, issue 16) -------------------------------


def set_agent_active(session: Session, agent: Agent, active: bool) -> bool:
    """D19: a deactivated agent's PIN is refused (`check_pin` answers "inactive"), their
    history stays. False when it already was so."""
    if agent.active == active:
        return False
    agent.active = active
    session.flush()
    return True


def unlock_agent(session: Session, agent: Agent) -> bool:
    """Lift a D19 lock (three wrong PINs) before its 15 minutes run out; False if unlocked."""
    if agent.locked_until is None and not agent.failed_tries:
        return False
    agent.failed_tries, agent.locked_until = 0, None
    session.flush()
    return True


def reset_pin(session: Session, agent: Agent, pin: str) -> None:
    """A new PIN (the same strength rule as `add_agent`), stored hashed only; lifts a lock.
    The caller gives the PIN to the agent; it is never stored, logged or shown again."""
    check_pin_strength(pin)
    agent.pin_hash = hash_pin(pin)
    agent.failed_tries, agent.locked_until = 0, None
    session.flush()
