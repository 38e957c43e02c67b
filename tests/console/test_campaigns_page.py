"""`/console/campaigns` (D14-D17, issue 16): campaigns of the scope with budget and state; a
campaign's page shows the estimate of `gateway reminders estimate` and the progress per day;
pause (with a reason) and resume through the messaging services, one `operator_actions` row
each; another mutual's campaign is 404, a section's operator sees none."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import Alert, Campaign, ReminderOccurrence, Role, ScopeKind
from gateway.services.operators import ScopeRef
from gateway.services.reminders import estimate_campaign, select_targets
from tests.console.conftest import TwoMutuals
from tests.support.console import NOW, actions, post, signed
from tests.support.reminders import OPENS, WINDOW_OPENS, World, build


@pytest.fixture
def world(db: Session, two: TwoMutuals) -> World:
    """The reminder tests' campaign (mutual MUT) with two days of progress; and a campaign of
    mutual B that MUT's operators must never see."""
    made = build(db)
    rule = made.campaign.reminders[0]
    for n, (home, day, status) in enumerate(
        [
            (made.fr, OPENS, "sent"),
            (made.en, OPENS, "sent"),
            (made.fr, OPENS + dt.timedelta(1), "missed"),
        ]
    ):
        db.add(
            ReminderOccurrence(
                household_id=home.id,
                campaign_id=made.campaign.id,
                rule_id=rule.id,
                occurrence=n,
                due_at=WINDOW_OPENS,
                status=status,
                sent_on=day,
            )
        )
    db.add(
        Campaign(
            mutual=two.b,
            product=two.b.products[0],
            code="BCAMP",
            name="B's campaign",
            opens_on=OPENS,
            closes_on=OPENS + dt.timedelta(30),
            for_period=OPENS,
        )
    )
    made.campaign.budget = 100_000
    db.commit()
    return made


def scope_of(world: World) -> ScopeRef:
    return ScopeRef(ScopeKind.MUTUAL, mutual_id=world.mutual.id)


def test_list_and_page_with_estimate_and_progress(
    db: Session, two: TwoMutuals, world: World, console_app: Flask
) -> None:
    manager = signed(console_app, db, "gerant@mut.bf", Role.MANAGER, scope_of(world))
    html = manager.get("/console/campaigns").get_data(as_text=True)
    assert f'id="campaign-{world.campaign.id}"' in html and "BCAMP" not in html
    row = html.split(f'id="campaign-{world.campaign.id}"')[1].split("</tr>")[0]
    assert "100000 XOF" in row and "<td>2</td>" in row and "running" in row
    page = manager.get(f"/console/campaigns/{world.campaign.id}").get_data(as_text=True)
    today = NOW.astimezone(dt.timezone(dt.timedelta(hours=3))).date()
    expected = estimate_campaign(
        world.mutual,
        world.campaign,
        select_targets(db, world.mutual, world.campaign, today).targets,
    )
    db.rollback()
    assert expected.recipients > 0
    assert f'<dd id="recipients">{expected.recipients}</dd>' in page
    assert f'<dd id="cost">{expected.cost} XOF</dd>' in page
    days = page.split('id="progress"')[1]
    assert days.index(str(OPENS + dt.timedelta(1))) < days.index(str(OPENS))  # newest first
    assert f"<td>{OPENS}</td><td>2</td><td>0</td>" in days


def test_pause_needs_a_reason_then_resume(
    db: Session, two: TwoMutuals, world: World, console_app: Flask
) -> None:
    manager = signed(console_app, db, "gerant@mut.bf", Role.MANAGER, scope_of(world))
    before = len(actions(db))
    url = f"/console/campaigns/{world.campaign.id}"
    assert "reason is required" in post(manager, f"{url}/pause", follow=True).get_data(as_text=True)
    assert len(actions(db)) == before
    paused = post(manager, f"{url}/pause", {"reason": "SMS budget review"}, follow=True)
    assert "paused by an operator: SMS budget review" in paused.get_data(as_text=True)
    campaign = db.get_one(Campaign, world.campaign.id)
    assert campaign.paused_at is not None
    assert (
        db.scalars(select(Alert).where(Alert.kind == "campaign_paused")).one().resolved_at is None
    )
    db.rollback()
    post(manager, f"{url}/resume")
    added = actions(db)[before:]
    assert [(a.action, a.reason, a.mutual_id) for a in added] == [
        ("campaign.pause", "SMS budget review", world.mutual.id),
        ("campaign.resume", None, world.mutual.id),
    ]
    assert added[1].after and added[1].after["was"] == "paused by an operator: SMS budget review"
    assert db.get_one(Campaign, world.campaign.id).paused_at is None
    db.rollback()


def test_isolation_roles_and_csrf(
    db: Session, two: TwoMutuals, world: World, console_app: Flask
) -> None:
    url, scope = f"/console/campaigns/{world.campaign.id}", scope_of(world)
    b_campaign = db.scalars(select(Campaign.id).where(Campaign.code == "BCAMP")).one()
    db.rollback()  # (it expires the loaded objects: ids were read before)
    manager = signed(console_app, db, "gerant@mut.bf", Role.MANAGER, scope)
    assert manager.get(f"/console/campaigns/{b_campaign}").status_code == 404
    assert (
        post(manager, f"/console/campaigns/{b_campaign}/pause", {"reason": "x"}).status_code == 404
    )
    section = signed(console_app, db, "nord@ma.bf", Role.MANAGER, two.section_scope_a)
    assert "campaign-" not in section.get("/console/campaigns").get_data(as_text=True)
    viewer = signed(console_app, db, "vue@mut.bf", Role.VIEWER, scope)
    assert viewer.get(url).status_code == 200
    assert post(viewer, f"{url}/pause", {"reason": "x"}).status_code == 403
    admin = signed(console_app, db, "admin@mut.bf", Role.ADMIN, scope)
    assert post(admin, f"{url}/pause", {"reason": "x"}).status_code == 403  # D27: managers
    assert manager.post(f"{url}/pause", data={"reason": "x"}).status_code == 400
    assert db.get_one(Campaign, world.campaign.id).paused_at is None
    db.rollback()
