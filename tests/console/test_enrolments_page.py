"""`/console/enrolments` and `POST /api/v1/enrolments/<id>/approve|reject` (D24, console.md):
pending field enrolments of the scope with their duplicate flags; approve or reject with a
reason through the same service as the CLI; one `operator_actions` row per write (D27); an
enrolment of another mutual or section is 404; viewers (and finance) cannot write; forms need
their CSRF token; the ledger audit stays clean."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.console.api.openapi import document
from gateway.models import (
    Enrolment,
    EnrolmentStatus,
    Household,
    OutboxMessage,
    Role,
)
from gateway.services import ledger
from gateway.services.agents.registry import add_agent
from tests.console.conftest import TwoMutuals
from tests.support.console import actions, bearer, body, post, signed, token
from tests.support.enrolments import pending


def world(db: Session, two: TwoMutuals) -> dict[str, Enrolment]:
    a = add_agent(db, two.a, phone="70000002", name="Ali", role="collector", pin="1470")
    b = add_agent(db, two.b, phone="70000003", name="Bob", role="collector", pin="1470")
    dup = [{"kind": "household", "ref": "1001", "why": "phone"}]
    rows = {
        "north": pending(db, two.a, a, "Awa Nord", two.section_a, duplicates=dup),
        "plain": pending(db, two.a, a, "Awa Sans", phone="+22670222222"),
        "theirs": pending(db, two.b, b, "Bintou B", two.section_b, phone="+22670333333"),
    }
    db.commit()
    return rows


def shown(html: str, rows: dict[str, Enrolment]) -> set[str]:
    return {key for key, row in rows.items() if f'data-id="{row.id}"' in html}


def test_the_pending_enrolments_of_the_scope(
    db: Session, two: TwoMutuals, console_app: Flask
) -> None:
    rows = world(db, two)
    manager = signed(console_app, db, "gerant@ma.bf", Role.MANAGER, two.scope_a)
    html = manager.get("/console/enrolments").text
    assert shown(html, rows) == {"north", "plain"}
    assert "Household 1001" in html and "same phone" in html  # the duplicate flag
    assert "+22670****11" in html and "+22670111111" not in html
    assert "/approve" in html and "/reject" in html
    section = signed(console_app, db, "nord@ma.bf", Role.VIEWER, two.section_scope_a)
    html = section.get("/console/enrolments").text
    assert shown(html, rows) == {"north"}
    assert "/approve" not in html  # a viewer is offered no write
    assert "/console/enrolments" in manager.get("/console/").text  # the nav link


def test_approve_and_reject_one_operator_action_each(
    db: Session, two: TwoMutuals, console_app: Flask
) -> None:
    rows = world(db, two)
    manager = signed(console_app, db, "gerant@ma.bf", Role.MANAGER, two.scope_a)
    before = len(actions(db))
    reply = post(manager, f"/console/enrolments/{rows['north'].id}/approve", follow=True)
    assert reply.status_code == 200 and "approved: household 900000019" in reply.text
    done = actions(db)[before:]
    assert [(a.action, a.object_id, a.mutual_id, a.section_id) for a in done] == [
        ("enrolment.approve", str(rows["north"].id), two.a.id, two.section_a.id)
    ]
    assert done[0].after is not None and done[0].after["household"] == "900000019"
    nothing = post(manager, f"/console/enrolments/{rows['plain'].id}/reject", follow=True)
    assert nothing.status_code == 200 and len(actions(db)) == before + 1  # a reason is required
    reply = post(
        manager,
        f"/console/enrolments/{rows['plain'].id}/reject",
        {"reason": "Doublon du menage 1001"},
        follow=True,
    )
    assert reply.status_code == 200 and len(actions(db)) == before + 2
    again = post(manager, f"/console/enrolments/{rows['north'].id}/approve", follow=True)
    assert "Not possible" in again.text and len(actions(db)) == before + 2  # already decided
    with db.begin():
        decided = {e.id: e.status for e in db.scalars(select(Enrolment))}
        assert decided[rows["north"].id] == EnrolmentStatus.APPROVED
        assert decided[rows["plain"].id] == EnrolmentStatus.REJECTED
        household = db.scalars(select(Household).where(Household.number == "900000019")).one()
        assert household.section_id == two.section_a.id
        sms = db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        assert [m.template for m in sms] == [
            "enrol_approved",
            "enrol_approved_agent",
            "enrol_rejected",
        ]
        assert sms[-1].text.endswith("refusee: Doublon du menage 1001")
        assert ledger.audit(db) == []


def test_scope_roles_and_csrf(db: Session, two: TwoMutuals, console_app: Flask) -> None:
    rows = world(db, two)
    other = signed(console_app, db, "b@mb.bf", Role.MANAGER, two.scope_b)
    assert post(other, f"/console/enrolments/{rows['north'].id}/approve").status_code == 404
    section = signed(console_app, db, "nord@ma.bf", Role.MANAGER, two.section_scope_a)
    assert post(section, f"/console/enrolments/{rows['plain'].id}/approve").status_code == 404
    viewer = signed(console_app, db, "vue@ma.bf", Role.VIEWER, two.scope_a)
    assert post(viewer, f"/console/enrolments/{rows['north'].id}/approve").status_code == 403
    finance = signed(console_app, db, "tresor@ma.bf", Role.FINANCE, two.scope_a)
    url = f"/console/enrolments/{rows['north'].id}/reject"
    assert post(finance, url, {"reason": "x"}).status_code == 403
    manager = signed(console_app, db, "gerant@ma.bf", Role.MANAGER, two.scope_a)
    before = len(actions(db))
    assert manager.post(f"/console/enrolments/{rows['north'].id}/approve").status_code == 400
    assert manager.post(url, data={"reason": "x"}).status_code == 400
    assert len(actions(db)) == before


def _api(client: FlaskClient, secret: str, url: str, payload: Any = None) -> Any:
    return client.post(url, json=payload, headers=bearer(secret))


def test_the_api_decides_in_scope(db: Session, two: TwoMutuals, client: FlaskClient) -> None:
    rows = world(db, two)
    manager = token(db, "gestion-a", Role.MANAGER, two.scope_a)
    viewer = token(db, "lecture-a", Role.VIEWER, two.scope_a)
    db.commit()
    base = "/api/v1/enrolments"
    spec = document()
    assert client.post(f"{base}/{rows['north'].id}/approve").status_code == 401
    assert _api(client, viewer, f"{base}/{rows['north'].id}/approve").status_code == 403
    assert _api(client, manager, f"{base}/{rows['theirs'].id}/approve").status_code == 404
    assert _api(client, manager, f"{base}/999999/approve").status_code == 404
    before = len(actions(db))
    approved = _api(client, manager, f"{base}/{rows['north'].id}/approve")
    assert approved.status_code == 200, approved.text
    answer = body(approved)
    Draft202012Validator(
        {**spec["components"]["schemas"]["Enrolment"], "components": spec["components"]}
    ).validate(answer)
    assert (answer["status"], answer["household"]) == ("APPROVED", "900000019")
    assert answer["decided_by"] == "api:gestion-a"
    assert _api(client, manager, f"{base}/{rows['north'].id}/approve").status_code == 409
    no_reason = _api(client, manager, f"{base}/{rows['plain'].id}/reject", {"reason": " "})
    assert no_reason.status_code == 400 and "reason" in body(no_reason)["reason"]
    bad = client.post(
        f"{base}/{rows['plain'].id}/reject",
        data="[1",
        headers={**bearer(manager), "Content-Type": "application/json"},
    )
    assert bad.status_code == 400
    rejected = _api(client, manager, f"{base}/{rows['plain'].id}/reject", {"reason": "Doublon"})
    assert rejected.status_code == 200 and body(rejected)["reason"] == "Doublon"
    done = actions(db)[before:]
    assert [(a.action, a.user_id, a.after and a.after["by"]) for a in done] == [
        ("enrolment.approve", None, "api:gestion-a"),
        ("enrolment.reject", None, "api:gestion-a"),
    ]
    with db.begin():
        assert ledger.audit(db) == []
