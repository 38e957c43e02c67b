"""The USSD session memory is typed (gateway.menus.journeys.memory): every action and view names its
journey's TypedDict, so a mistyped key is a mypy error; the run-time check of the stored JSON
(tests/menus/conftest.py) catches what mypy cannot see; and the JSON is the one stored before
the types existed, so sessions in flight survive a deploy."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, get_args, get_origin, get_type_hints, is_typeddict

import pytest
import redis
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from gateway.clock import FixedClock
from gateway.menus.engine.screens import Ctx
from gateway.menus.engine.store import SessionStore
from gateway.menus.journeys import registry
from tests.support import dialogue
from tests.support.dialogue import Phone
from tests.support.factories import make_household, make_mutual
from tests.support.memory_types import memory_problems

PHONE = "+22670123412"
# in the order stored
# `mutual_id` since issue 16 (the hop audit's mutual): a key added, none changed, so a session
# in flight written by either version is read by the other.
KEYS = ["kind", "household_id", "household", "home", "mutual_id", "pay_period", "pay_amount"]
ussd_app, client = dialogue.ussd_app, dialogue.client


def functions() -> list[tuple[str, Any]]:
    reg = registry()
    return [*reg.actions.items(), *reg.views.items()]


@pytest.mark.parametrize(("name", "fn"), functions(), ids=[name for name, _ in functions()])
def test_every_action_and_view_names_its_journeys_memory(name: str, fn: Any) -> None:
    """`ctx: Ctx[PayMemory]`, not a bare or Any memory: else mypy checks none of its keys."""
    hint = get_type_hints(fn)["ctx"]
    assert get_origin(hint) is Ctx, f"{name}: ctx is {hint}"
    (memory,) = get_args(hint)
    assert is_typeddict(memory), f"{name}: the memory of its ctx is {memory}, not a TypedDict"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"kind": "member", "pay_amont": 500}, "data.pay_amont: not declared in PayMemory"),
        ({"kind": "member", "pay_amount": "500"}, "data.pay_amount: '500' is not int"),
        ({"kind": "member", "households": [1, "2"]}, "data.households[1]: '2' is not int"),
        ({"kind": "agent", "collect": {"household_id": 1}}, "data.collect.household: missing"),
        ({"kind": "visitor", "mutual_id": True}, "data.mutual_id: True is not int | None"),
        ({"kind": "membre"}, "kind: 'membre' is not one of"),
    ],
)
def test_the_stored_memory_check_finds_what_the_types_do_not_allow(
    data: dict[str, Any], problem: str
) -> None:
    assert any(found.startswith(problem) for found in memory_problems(data)), memory_problems(data)


def test_a_session_of_every_kind_may_hold_what_its_journeys_write() -> None:
    agent = {"kind": "agent", "agent_id": 3, "mutual_id": 1, "home": "agent_collector"}
    collect = {"household_id": 7, "household": "10007", "name": "Awa", "amount": 500}
    remit = {"amount": 500, "method": "deposit"}
    assert memory_problems({**agent, "collect": collect, "remit": remit}) == []
    assert memory_problems({"kind": "visitor", "mutual_id": None, "home": "visitor_menu"}) == []
    assert memory_problems({"kind": "resume", "resume": {}, "restart": {}}) == []


def test_a_member_paying_stores_the_memory_it_always_stored(
    db: Session, client: FlaskClient, clock: FixedClock, redis_client: redis.Redis[bytes]
) -> None:
    """The JSON of a session in flight, key by key: a deploy of typed code reads it as is."""
    household = make_household(db, make_mutual(db), members=3, phone=PHONE)
    db.commit()
    clock.at = dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC)
    phone = Phone(client, PHONE)
    phone.walk("2", "1")
    assert list(frame_data(redis_client, phone)) == KEYS
    assert frame_data(redis_client, phone) == {
        "kind": "member",
        "household_id": household.id,
        "household": household.number,
        "home": "member_menu",
        "mutual_id": household.mutual_id,
        "pay_period": "2026",
        "pay_amount": 18_000,
    }
    assert phone.send("1").end
    stored = frame_data(redis_client, phone)
    assert list(stored) == [*KEYS, "pay_reference"]
    assert isinstance(stored["pay_reference"], str) and len(stored["pay_reference"]) == 36


def frame_data(client: redis.Redis[bytes], phone: Phone) -> dict[str, Any]:
    raw = client.get(SessionStore.key("africastalking", phone.session_id))
    assert raw is not None
    return dict(json.loads(raw)["frame"]["data"])
