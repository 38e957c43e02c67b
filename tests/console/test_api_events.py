"""`POST /api/v1/households/<number>/events` and the household page's event form (issue 18,
D23, D27): managers and admins record an event with its money at once; every bad field is
named in a 400 and nothing is written; the viewer and finance are refused (403), another
mutual's household is not found (404); exactly one operator action per recorded event."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.console.api.openapi import document
from gateway.models import Beneficiary, HouseholdEvent, OperatorAction, Role
from tests.console.conftest import TwoMutuals
from tests.support.console import bearer, body, make_user, post, sign_in, token
from tests.support.events import assert_ledger_clean
from tests.support.factories import make_household

URL = "/api/v1/households/H1/events"


@pytest.fixture
def homes(db: Session, two: TwoMutuals) -> None:
    make_household(db, two.a, members=2, number="H1")
    make_household(db, two.b, members=1, number="H9")
    db.commit()


def count(db: Session, model: Any) -> int:
    found = int(db.scalar(select(func.count()).select_from(model)) or 0)
    db.rollback()  # SQLite: never hold the read lock the app needs
    return found


def events_logged(db: Session) -> int:
    query = select(func.count()).where(OperatorAction.action == "household.event")
    found = int(db.scalar(query) or 0)
    db.rollback()
    return found


def member(db: Session, n: int) -> Beneficiary:
    query = select(Beneficiary).where(Beneficiary.number.like("%")).order_by(Beneficiary.id)
    return list(db.scalars(query))[n]


def schema(name: str) -> Draft202012Validator:
    spec = document()
    return Draft202012Validator(
        {**spec["components"]["schemas"][name], "components": spec["components"]}
    )


@pytest.mark.usefixtures("homes")
def test_a_manager_records_a_departure(db: Session, two: TwoMutuals, client: FlaskClient) -> None:
    secret = token(db, "crm", Role.MANAGER, two.scope_a)
    child = member(db, 1).number
    db.commit()
    request = {"type": "depart", "on": "2026-02-20", "reason": "parti au Ghana", "member": child}
    schema("EventRequest").validate(request)
    reply = client.post(URL, json=request, headers=bearer(secret))
    assert reply.status_code == 201, body(reply)
    schema("Event").validate(body(reply))
    assert (body(reply)["type"], body(reply)["beneficiary"]) == ("depart", child)
    again = client.post(URL, json=request, headers=bearer(secret))
    assert again.status_code == 200 and body(again)["created"] is False
    assert count(db, HouseholdEvent) == 1
    actions = list(
        db.scalars(select(OperatorAction).where(OperatorAction.action == "household.event"))
    )
    assert len(actions) == 2 and actions[0].reason == "parti au Ghana"
    db.rollback()
    assert_ledger_clean(db)


@pytest.mark.usefixtures("homes")
def test_every_bad_field_is_named(db: Session, two: TwoMutuals, client: FlaskClient) -> None:
    secret = token(db, "crm", Role.ADMIN, two.scope_a)
    db.commit()
    bad = {"type": "fly", "on": "yesterday", "colour": "red", "name": 3}
    reply = client.post(URL, json=bad, headers=bearer(secret))
    assert reply.status_code == 400
    fields = body(reply)["fields"]
    assert set(fields) == {"type", "on", "reason", "colour", "name"}
    schema("Error").validate(body(reply))
    missing = client.post(URL, json={"type": "death", "reason": "r"}, headers=bearer(secret))
    assert body(missing)["fields"] == {"member": "death needs the beneficiary's number"}
    stranger = client.post(
        URL, json={"type": "death", "reason": "r", "member": "Z"}, headers=bearer(secret)
    )
    assert "not a member of household H1" in body(stranger)["fields"]["member"]
    not_json = client.post(URL, data="x", headers=bearer(secret))
    assert not_json.status_code == 400 and body(not_json)["fields"] == {"body": "a JSON object"}
    refused = client.post(
        URL, json={"type": "category", "reason": "r", "category": "vip"}, headers=bearer(secret)
    )
    assert refused.status_code == 400 and "category 'vip'" in body(refused)["reason"]
    assert count(db, HouseholdEvent) == 0 and events_logged(db) == 0


@pytest.mark.usefixtures("homes")
def test_viewer_and_finance_are_refused_and_another_mutual_is_not_found(
    db: Session, two: TwoMutuals, client: FlaskClient
) -> None:
    viewer = token(db, "view", Role.VIEWER, two.scope_a)
    finance = token(db, "fin", Role.FINANCE, two.scope_a)
    manager_b = token(db, "crm-b", Role.MANAGER, two.scope_b)
    db.commit()
    request = {"type": "category", "reason": "r", "category": "standard"}
    assert client.post(URL, json=request, headers=bearer(viewer)).status_code == 403
    assert client.post(URL, json=request, headers=bearer(finance)).status_code == 403
    assert client.post(URL, json=request, headers=bearer(manager_b)).status_code == 404
    assert client.post(URL, json=request).status_code == 401
    assert count(db, HouseholdEvent) == 0


@pytest.mark.usefixtures("homes")
def test_the_household_page_form(db: Session, two: TwoMutuals, client: FlaskClient) -> None:
    make_user(db, "m@a.bf", Role.MANAGER, two.scope_a)
    child = member(db, 1).number
    db.commit()
    assert sign_in(client, "m@a.bf").status_code == 302
    page = client.get("/console/households/H1").get_data(as_text=True)
    assert 'id="event-form"' in page
    url = "/console/households/H1/events"
    no_reason = post(client, url, {"type": "suspend", "member": child, "reason": ""})
    assert no_reason.status_code == 400 and "reason" in no_reason.get_data(as_text=True)
    done = post(client, url, {"type": "suspend", "member": child, "reason": "fraude"}, follow=True)
    assert done.status_code == 200 and "suspend" in done.get_data(as_text=True)
    assert count(db, HouseholdEvent) == 1
    assert events_logged(db) == 1
    assert client.post(url, data={"type": "lift"}).status_code == 400  # no CSRF token


@pytest.mark.usefixtures("homes")
def test_a_viewer_has_no_form_and_cannot_post(
    db: Session, two: TwoMutuals, client: FlaskClient
) -> None:
    make_user(db, "v@a.bf", Role.VIEWER, two.scope_a)
    db.commit()
    assert sign_in(client, "v@a.bf").status_code == 302
    assert 'id="event-form"' not in client.get("/console/households/H1").get_data(as_text=True)
    reply = post(client, "/console/households/H1/events", {"type": "lift", "reason": "r"})
    assert reply.status_code == 403
    assert count(db, HouseholdEvent) == 0


def test_dates_are_iso(db: Session) -> None:
    """The API's `on` is an ISO date; the schema says so."""
    assert schema("EventRequest").is_valid(
        {"type": "lift", "reason": "r", "on": dt.date(2026, 1, 1).isoformat()}
    )
    assert not schema("EventRequest").is_valid({"type": "fly", "reason": "r"})
