"""`/console/agents` (D19-D21, issue 16): the agents of the scope with cash held and its age;
add, deactivate, reactivate, unlock, reset a PIN; remittances confirmed or rejected in a
supervisor's name. One `operator_actions` row per write; a PIN never appears in a page nor in
the audit row; other mutuals' (and sections') agents are 404."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import Agent, Remittance, Role
from gateway.services.agents import add_agent, check_pin, collect_cash, declare_remittance
from gateway.services.agents.registry import LOCK_FOR
from tests.console.conftest import TwoMutuals
from tests.support.console import NOW, actions, post, signed
from tests.support.factories import make_household

PIN = "2580"
NEW_PIN = "8264"


@pytest.fixture
def roster(db: Session, two: TwoMutuals) -> dict[str, int]:
    """A: a collector of section Nord holding 6 000 XOF since 3 days, locked; a supervisor
    (mutual-wide); B: a collector. A pending remittance of A's collector."""
    a, b = two.a, two.b
    collector = add_agent(
        db, a, phone="70000001", name="Ali", role="collector", pin=PIN, section="Nord"
    )
    supervisor = add_agent(db, a, phone="70000002", name="Awa", role="supervisor", pin="3690")
    other = add_agent(db, b, phone="70000009", name="Bob", role="collector", pin="1593")
    household = make_household(db, a)
    household.section_id = two.section_a.id
    then = NOW - dt.timedelta(days=3)
    collect_cash(db, agent=collector, household=household, amount=6000, request_key="c1", now=then)
    remittance, _ = declare_remittance(db, agent=collector, amount=2000, request_key="r1", now=NOW)
    collector.failed_tries, collector.locked_until = 3, NOW + LOCK_FOR
    db.commit()
    return {
        "collector": collector.id,
        "supervisor": supervisor.id,
        "other": other.id,
        "remittance": remittance.id,
    }


def test_the_list_shows_the_scope_with_cash_and_its_age(
    db: Session, two: TwoMutuals, roster: dict[str, int], console_app: Flask
) -> None:
    manager = signed(console_app, db, "gerant@ma.bf", Role.MANAGER, two.scope_a)
    html = manager.get("/console/agents").get_data(as_text=True)
    row = html.split(f'id="agent-{roster["collector"]}"')[1].split("</tr>")[0]
    assert "6000 XOF" in row and "3 days" in row and "locked" in row and "Nord" in row
    assert "+22670****01" in row and "+22670000001" not in html
    assert f'id="agent-{roster["other"]}"' not in html and "Bob" not in html
    assert f'id="remittance-{roster["remittance"]}"' in html
    section = signed(console_app, db, "nord@ma.bf", Role.MANAGER, two.section_scope_a)
    html = section.get("/console/agents").get_data(as_text=True)
    assert f'id="agent-{roster["collector"]}"' in html
    assert f'id="agent-{roster["supervisor"]}"' not in html  # no section: the mutual's
    assert f'id="remittance-{roster["remittance"]}"' not in html  # remittances: the mutual's


def test_unlock_leaves_one_row_and_the_pin_works_again(
    db: Session, two: TwoMutuals, roster: dict[str, int], console_app: Flask
) -> None:
    manager = signed(console_app, db, "gerant@ma.bf", Role.MANAGER, two.scope_a)
    before = len(actions(db))
    assert post(manager, f"/console/agents/{roster['collector']}/unlock").status_code == 302
    added = actions(db)[before:]
    assert [(a.action, a.object_id, a.mutual_id, a.section_id) for a in added] == [
        ("agent.unlock", str(roster["collector"]), two.a.id, two.section_a.id)
    ]
    agent = db.get_one(Agent, roster["collector"])
    assert check_pin(db, agent, PIN, NOW).ok
    db.rollback()


def test_deactivate_needs_a_reason_then_reactivate(
    db: Session, two: TwoMutuals, roster: dict[str, int], console_app: Flask
) -> None:
    manager = signed(console_app, db, "gerant@ma.bf", Role.MANAGER, two.scope_a)
    before = len(actions(db))
    url = f"/console/agents/{roster['supervisor']}/deactivate"
    assert "reason is required" in post(manager, url, follow=True).get_data(as_text=True)
    assert len(actions(db)) == before
    post(manager, url, {"reason": "left the mutual"})
    post(manager, f"/console/agents/{roster['supervisor']}/activate")
    added = actions(db)[before:]
    assert [(a.action, a.reason, a.before, a.after) for a in added] == [
        ("agent.deactivate", "left the mutual", {"active": True}, {"active": False}),
        ("agent.activate", None, {"active": False}, {"active": True}),
    ]


def test_reset_pin_is_hashed_and_never_shown_nor_logged(
    db: Session, two: TwoMutuals, roster: dict[str, int], console_app: Flask
) -> None:
    manager = signed(console_app, db, "gerant@ma.bf", Role.MANAGER, two.scope_a)
    before = len(actions(db))
    url = f"/console/agents/{roster['collector']}/pin"
    weak = post(manager, url, {"pin": "1234"}, follow=True).get_data(as_text=True)
    assert "too easy" in weak and "1234" not in weak.split("too easy")[1][:40]
    assert len(actions(db)) == before
    reply = post(manager, url, {"pin": NEW_PIN}, follow=True).get_data(as_text=True)
    assert NEW_PIN not in reply
    added = actions(db)[before:]
    assert [a.action for a in added] == ["agent.pin_reset"]
    assert NEW_PIN not in json.dumps([added[0].before, added[0].after, added[0].reason])
    agent = db.get_one(Agent, roster["collector"])
    assert NEW_PIN not in agent.pin_hash and check_pin(db, agent, NEW_PIN, NOW).ok
    db.rollback()


def test_add_an_agent(
    db: Session, two: TwoMutuals, roster: dict[str, int], console_app: Flask
) -> None:
    manager = signed(console_app, db, "gerant@ma.bf", Role.MANAGER, two.scope_a)
    before = len(actions(db))
    form = {
        "mutual": str(two.a.id),
        "phone": "70 00 00 05",
        "name": "Fati",
        "role": "collector",
        "section": "Nord",
        "pin": "4817",
    }
    reply = post(manager, "/console/agents/new", form, follow=True).get_data(as_text=True)
    assert "Agent +22670****05 saved" in reply and "4817" not in reply
    added = actions(db)[before:]
    assert [(a.action, a.section_id) for a in added] == [("agent.add", two.section_a.id)]
    assert added[0].after == {
        "phone": "+22670****05",
        "name": "Fati",
        "role": "collector",
        "section": "Nord",
    }
    # B's agent's phone, or B as the mutual: refused, nothing written.
    taken = post(manager, "/console/agents/new", {**form, "phone": "70000009"}, follow=True)
    assert "outside your scope" in taken.get_data(as_text=True)
    assert (
        post(manager, "/console/agents/new", {**form, "mutual": str(two.b.id)}).status_code == 404
    )
    bad = post(manager, "/console/agents/new", {**form, "pin": "12"}, follow=True)
    assert "pin" in bad.get_data(as_text=True)
    assert len(actions(db)) == before + 1


def test_a_section_operator_adds_to_their_section_only(
    db: Session, two: TwoMutuals, roster: dict[str, int], console_app: Flask
) -> None:
    section = signed(console_app, db, "nord@ma.bf", Role.MANAGER, two.section_scope_a)
    form = {
        "mutual": str(two.a.id),
        "phone": "70000006",
        "name": "Moussa",
        "role": "collector",
        "section": "",
        "pin": "4817",
    }
    post(section, "/console/agents/new", form)
    agent = db.scalars(select(Agent).where(Agent.name == "Moussa")).one()
    assert agent.section_id == two.section_a.id
    db.rollback()


def test_remittance_confirm_and_reject(
    db: Session, two: TwoMutuals, roster: dict[str, int], console_app: Flask
) -> None:
    finance = signed(console_app, db, "tresor@ma.bf", Role.FINANCE, two.scope_a)
    before = len(actions(db))
    url = f"/console/remittances/{roster['remittance']}/confirm"
    refused = post(finance, url, {"supervisor": str(roster["supervisor"])}, follow=True)
    assert "say why" in refused.get_data(as_text=True)
    # In the name of the declarer himself: refused by the service (D21).
    own = {"supervisor": str(roster["collector"]), "reason": "slip 12"}
    assert "not an active supervisor" in post(finance, url, own, follow=True).get_data(as_text=True)
    assert len(actions(db)) == before
    post(finance, url, {"supervisor": str(roster["supervisor"]), "reason": "bank slip 12"})
    added = actions(db)[before:]
    assert [(a.action, a.reason) for a in added] == [("remittance.confirm", "bank slip 12")]
    assert added[0].after and added[0].after["status"] == "CONFIRMED"
    remittance = db.get_one(Remittance, roster["remittance"])
    assert remittance.confirmed_by_id == roster["supervisor"]
    db.rollback()
    again = post(
        finance,
        f"/console/remittances/{roster['remittance']}/reject",
        {"supervisor": str(roster["supervisor"]), "reason": "no"},
        follow=True,
    )
    assert "already confirmed" in again.get_data(as_text=True)
    assert len(actions(db)) == before + 1


def test_reject_a_remittance(
    db: Session, two: TwoMutuals, roster: dict[str, int], console_app: Flask
) -> None:
    manager = signed(console_app, db, "gerant@ma.bf", Role.MANAGER, two.scope_a)
    before = len(actions(db))
    form = {"supervisor": str(roster["supervisor"]), "reason": "money not received"}
    post(manager, f"/console/remittances/{roster['remittance']}/reject", form)
    added = actions(db)[before:]
    assert [(a.action, a.reason) for a in added] == [("remittance.reject", "money not received")]
    assert db.get_one(Remittance, roster["remittance"]).status == "REJECTED"
    db.rollback()


def test_isolation_roles_and_csrf(
    db: Session, two: TwoMutuals, roster: dict[str, int], console_app: Flask
) -> None:
    manager = signed(console_app, db, "gerant@ma.bf", Role.MANAGER, two.scope_a)
    other = roster["other"]
    for verb in ("unlock", "deactivate", "activate"):
        assert post(manager, f"/console/agents/{other}/{verb}", {"reason": "x"}).status_code == 404
    assert post(manager, f"/console/agents/{other}/pin", {"pin": NEW_PIN}).status_code == 404
    section_b_agent = add_agent(
        db, two.a, phone="70000007", name="Sud", role="collector", pin="4817"
    )
    db.commit()
    section = signed(console_app, db, "nord@ma.bf", Role.MANAGER, two.section_scope_a)
    url = f"/console/agents/{section_b_agent.id}/unlock"
    assert post(section, url).status_code == 404  # a mutual-wide agent: not the section's
    form = {"supervisor": str(roster["supervisor"]), "reason": "x"}
    assert (
        post(section, f"/console/remittances/{roster['remittance']}/confirm", form).status_code
        == 404
    )
    viewer = signed(console_app, db, "vue@ma.bf", Role.VIEWER, two.scope_a)
    shown = viewer.get("/console/agents")
    assert shown.status_code == 200 and f'id="agent-{roster["collector"]}"' in shown.text
    assert "/unlock" not in shown.text and "/confirm" not in shown.text  # no forms to write
    assert post(viewer, f"/console/agents/{roster['collector']}/unlock").status_code == 403
    finance = signed(console_app, db, "tresor@ma.bf", Role.FINANCE, two.scope_a)
    assert post(finance, f"/console/agents/{roster['collector']}/unlock").status_code == 403
    before = len(actions(db))
    assert manager.post(f"/console/agents/{roster['collector']}/unlock").status_code == 400
    assert len(actions(db)) == before
