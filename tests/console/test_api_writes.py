"""The API's writes of issue 17: `POST reconciliation/exceptions/<id>/assign|ignore` go through
the reconciliation services (as the console and `gateway reconcile`), with exactly one
`operator_actions` row per write naming the token; a reason is required; maker-checker holds
(payments.md: above the threshold the assignment waits for another person); viewer tokens
are refused (403), another mutual's lines are 404, and a refused write writes nothing."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import ActionState, Mutual, ReconAction, Role, SuspenseItem
from gateway.services.payments import effects
from tests.console.conftest import TwoMutuals
from tests.support.console import NOW, actions, bearer, body, post, signed, token
from tests.support.factories import make_household

THRESHOLD = 10_000
BASE = "/api/v1/reconciliation/exceptions"


def held(db: Session, mutual: Mutual, amount: int, txn: str) -> int:
    item = effects.to_suspense(
        db, provider="sandbox", provider_txn_id=txn, amount=amount, now=NOW, reason="unknown"
    )
    item.mutual_id = mutual.id
    db.flush()
    return item.id


@pytest.fixture
def lines(db: Session, two: TwoMutuals) -> dict[str, int]:
    two.a.payment_settings = {"approval_threshold": THRESHOLD}
    make_household(db, two.a, number="A-1")
    make_household(db, two.b, number="B-1")
    found = {
        "small": held(db, two.a, 3000, "TX-S"),
        "large": held(db, two.a, 25_000, "TX-L"),
        "b": held(db, two.b, 5000, "TX-B"),
    }
    db.commit()
    return found


def test_assign_writes_one_action_naming_the_token(
    db: Session, two: TwoMutuals, lines: dict[str, int], client: FlaskClient
) -> None:
    secret = token(db, "erp", Role.FINANCE, two.scope_a)
    db.commit()
    before = len(actions(db))
    reply = client.post(
        f"{BASE}/{lines['small']}/assign",
        json={"household": "A-1", "reason": "the member called"},
        headers=bearer(secret),
    )
    assert reply.status_code == 200, body(reply)
    assert body(reply)["state"] == "DONE" and body(reply)["waits_approval"] is False
    added = actions(db)[before:]
    assert [(a.action, a.object_id, a.reason, a.mutual_id, a.user_id) for a in added] == [
        ("reconciliation.assign", str(lines["small"]), "the member called", two.a.id, None)
    ]
    assert added[0].after and added[0].after["by_token"] == "erp"
    item = db.get_one(SuspenseItem, lines["small"])
    assert (item.state, item.resolved_by) == ("ASSIGNED", "token:erp")
    db.rollback()
    again = client.post(
        f"{BASE}/{lines['small']}/assign",
        json={"household": "A-1", "reason": "twice"},
        headers=bearer(secret),
    )
    assert again.status_code == 409 and "already ASSIGNED" in body(again)["reason"]
    assert len(actions(db)) == before + 1


def test_maker_checker_holds_for_a_token(
    db: Session, two: TwoMutuals, lines: dict[str, int], console_app: Flask, client: FlaskClient
) -> None:
    secret = token(db, "erp", Role.MANAGER, two.scope_a)
    db.commit()
    reply = client.post(
        f"{BASE}/{lines['large']}/assign",
        json={"household": "A-1", "reason": "paid twice"},
        headers=bearer(secret),
    )
    assert reply.status_code == 200 and body(reply)["state"] == "PENDING"
    assert body(reply)["waits_approval"] is True
    pending = db.scalars(select(ReconAction).where(ReconAction.suspense_id == lines["large"])).one()
    action_id = pending.id
    assert pending.state == ActionState.PENDING and pending.by == "token:erp"
    assert db.get_one(SuspenseItem, lines["large"]).state == "OPEN"
    db.rollback()
    checker = signed(console_app, db, "tresor@ma.bf", Role.FINANCE, two.scope_a)
    post(checker, f"/console/reconciliation/actions/{action_id}/approve", {"reason": "checked"})
    assert db.get_one(SuspenseItem, lines["large"]).state == "ASSIGNED"
    db.rollback()


def test_ignore_needs_a_reason(
    db: Session, two: TwoMutuals, lines: dict[str, int], client: FlaskClient
) -> None:
    secret = token(db, "erp", Role.FINANCE, two.scope_a)
    db.commit()
    before = len(actions(db))
    url = f"{BASE}/{lines['small']}/ignore"
    for wrong in ({}, {"reason": "  "}, {"reason": 3}, {"reason": "x" * 501}):
        refused = client.post(url, json=wrong, headers=bearer(secret))
        assert refused.status_code == 400 and body(refused)["reason"]
    assert client.post(url, data="reason=x", headers=bearer(secret)).status_code == 400
    assert len(actions(db)) == before
    done = client.post(url, json={"reason": "a provider test"}, headers=bearer(secret))
    assert done.status_code == 200 and body(done)["state"] == "DONE"
    added = actions(db)[before:]
    assert [(a.action, a.reason) for a in added] == [("reconciliation.ignore", "a provider test")]
    assert db.get_one(SuspenseItem, lines["small"]).state == "IGNORED"
    db.rollback()


def test_viewer_403_other_mutual_404_and_nothing_written(
    db: Session, two: TwoMutuals, lines: dict[str, int], client: FlaskClient
) -> None:
    viewer = token(db, "board", Role.VIEWER, two.scope_a)
    admin = token(db, "it", Role.ADMIN, two.scope_a)
    secret = token(db, "erp", Role.FINANCE, two.scope_a)
    db.commit()
    before = len(actions(db))
    assign = {"household": "A-1", "reason": "r"}
    for verb, payload in (("assign", assign), ("ignore", {"reason": "r"})):
        url = f"{BASE}/{lines['small']}/{verb}"
        assert client.post(url, json=payload, headers=bearer(viewer)).status_code == 403
        assert client.post(url, json=payload, headers=bearer(admin)).status_code == 403
        other = f"{BASE}/{lines['b']}/{verb}"
        assert client.post(other, json=payload, headers=bearer(secret)).status_code == 404
        missing = f"{BASE}/999999/{verb}"
        assert client.post(missing, json=payload, headers=bearer(secret)).status_code == 404
    wrong_home = {"household": "B-1", "reason": "r"}
    refused = client.post(
        f"{BASE}/{lines['small']}/assign", json=wrong_home, headers=bearer(secret)
    )
    assert refused.status_code == 400 and "B-1" in body(refused)["reason"]
    assert len(actions(db)) == before
    assert db.get_one(SuspenseItem, lines["b"]).state == "OPEN"
    db.rollback()


def test_a_long_token_name_is_still_one_by(
    db: Session, two: TwoMutuals, lines: dict[str, int], client: FlaskClient
) -> None:
    secret = token(db, "n" * 90, Role.FINANCE, two.scope_a)
    db.commit()
    url = f"{BASE}/{lines['small']}/ignore"
    assert client.post(url, json={"reason": "r"}, headers=bearer(secret)).status_code == 200
    assert (db.get_one(SuspenseItem, lines["small"]).resolved_by or "").startswith("token-id:")
    db.rollback()
