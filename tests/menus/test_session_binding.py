"""Issue 15, point 7 at the USSD engine: a session belongs to the phone that opened it, and no
Redis key or record holds a phone number in clear (keyed hashes, see SessionStore); state
written by an earlier version starts over instead of failing the hop."""

from __future__ import annotations

import json

import pytest
import redis
from sqlalchemy.orm import Session

from gateway.clock import FixedClock
from gateway.menus.engine.port import UssdReply, UssdRequest
from gateway.menus.engine.store import SessionStore
from gateway.menus.hop import REFUSED, Engine, note_session_end
from gateway.settings import Settings
from tests.support.factories import make_household, make_mutual

OWNER, OTHER = "+22670123412", "+22670999999"


@pytest.fixture
def machine(redis_client: redis.Redis[bytes], settings: Settings, clock: FixedClock) -> Engine:
    return Engine(redis_client, settings, clock)


def hop(machine: Engine, db: Session, text: str, phone: str = OWNER, sid: str = "B1") -> UssdReply:
    return machine.handle(db, UssdRequest(sid, "*144*7#", phone, "61302", text))


def test_another_phone_cannot_continue_a_session(db: Session, machine: Engine) -> None:
    household = make_household(db, make_mutual(db), phone=OWNER)
    make_household(db, household.mutual, phone=OTHER)
    menu = hop(machine, db, "")
    assert not menu.end
    refused = hop(machine, db, "4", phone=OTHER)
    assert refused.end and refused.screen == REFUSED
    assert "another phone" in refused.text or "autre telephone" in refused.text
    assert hop(machine, db, "", phone=OTHER).screen == REFUSED  # even its first text
    # The owner's session is untouched: it goes on from its menu.
    assert hop(machine, db, "4").screen == "member_reminders"
    assert household.reminders_enabled is True


def test_no_phone_in_redis_keys_or_records(
    db: Session, machine: Engine, redis_client: redis.Redis[bytes]
) -> None:
    make_household(db, make_mutual(db), phone=OWNER)
    hop(machine, db, "")
    hop(machine, db, "5")  # inside a flow: the phone's last frame is kept for resume
    note_session_end(redis_client, OWNER, "Incomplete", machine.settings.secret_key)
    keys = redis_client.keys("*")
    store = SessionStore(redis_client, machine.settings.secret_key)
    assert store.last_key(OWNER).encode() in keys
    digits = OWNER.lstrip("+").encode()
    for key in keys:
        assert digits not in key and digits[-8:] not in key
        assert digits[-8:] not in (redis_client.get(key) or b"")


def test_the_phone_hash_is_keyed(redis_client: redis.Redis[bytes]) -> None:
    one, two = SessionStore(redis_client, "k1"), SessionStore(redis_client, "k2")
    assert one.phone_hash(OWNER) == SessionStore(redis_client, "k1").phone_hash(OWNER)
    assert one.phone_hash(OWNER) != two.phone_hash(OWNER) != one.phone_hash(OTHER)


def test_state_from_before_the_change_starts_over(
    db: Session, machine: Engine, redis_client: redis.Redis[bytes]
) -> None:
    """In-flight sessions of a running deployment: an unbound record (no owner), an unreadable
    one and an old clear-phone resume key never crash a hop; the session starts over."""
    make_household(db, make_mutual(db), phone=OWNER)
    first = hop(machine, db, "")
    key = SessionStore.key("africastalking", "B1")
    record = json.loads(redis_client.get(key) or b"{}")
    del record["owner"]
    redis_client.set(key, json.dumps(record))
    again = hop(machine, db, "4")  # replayed from the first screen, as after a state loss
    assert again.screen == "member_reminders"
    redis_client.set(SessionStore.key("africastalking", "B2"), b'{"frame": 1, "novel": true}')
    redis_client.set(f"ussd:last:{OWNER}", json.dumps({"frame": {}, "incomplete": True}))
    assert hop(machine, db, "", sid="B2") == first  # no resume offer from the old key
    redis_client.set(SessionStore(redis_client, machine.settings.secret_key).last_key(OWNER), b"[")
    assert hop(machine, db, "", sid="B3") == first
