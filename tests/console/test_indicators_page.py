"""`/console/indicators` and `GET /api/v1/indicators` (D22, D27, issue 17): the stored figures
of the operator's scope (mutual, section, union roll-up), SVG charts each beside its table and
CSV link, target populations entered by managers (one operator action, the recompute job
queued after commit); outside the scope is 404, a bad period 400."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import IndicatorTarget, Role, ScopeKind
from gateway.services.indicators import recompute
from gateway.services.operators import ScopeRef
from tests.support.console import actions, bearer, body, post, signed, token
from tests.support.indicators import TODAY, Scenario, build

NOW = dt.datetime(2026, 3, 15, 12, tzinfo=dt.UTC)


@pytest.fixture
def world(db: Session) -> Scenario:
    db.expire_on_commit = False
    made = build(db)
    recompute(db, [made.a.id, made.b.id], None, TODAY, NOW)
    db.commit()
    return made


def _union(world: Scenario) -> ScopeRef:
    return ScopeRef(ScopeKind.UNION, union_id=world.union.id)


def test_the_union_sees_its_roll_up_with_charts_tables_and_csv(
    console_app: Flask, db: Session, world: Scenario
) -> None:
    client = signed(console_app, db, "uni@x.org", Role.VIEWER, _union(world))
    page = client.get("/console/indicators?period=2025")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert html.count("<svg") == 4 and html.count('class="csv"') == 5
    assert 'id="fig-PAID_UP"><td>PAID_UP</td><td></td><td>5</td><td>6</td>' in html  # 4/5 + 1/1
    assert "MA/Nord" in html and "MB/Est" in html
    reply = client.get("/console/indicators.csv?period=2025&chart=channels")
    assert reply.mimetype == "text/csv"
    lines = reply.get_data(as_text=True).splitlines()
    assert lines[0] == "channel,amount,payments"
    assert "mobile:cinetpay,12000,1" in lines and "legacy,6000,1" in lines
    assert client.get("/console/indicators.csv?period=2025&chart=nope").status_code == 400
    assert client.get("/console/indicators?period=2025-13").status_code == 400


def test_a_mutual_sees_its_campaign_against_the_previous_one(
    console_app: Flask, db: Session, world: Scenario
) -> None:
    client = signed(
        console_app, db, "ma@x.org", Role.MANAGER, ScopeRef(ScopeKind.MUTUAL, mutual_id=world.a.id)
    )
    reply = client.get("/console/indicators.csv?period=2026&chart=campaign")
    lines = reply.get_data(as_text=True).splitlines()
    assert lines[0] == "day,C2026,C2025"
    # C2026 opens 2026-01-05: H1 paid 12000 on day 5, H2 6000 on day 7; C2025: H6 6000 on
    # day 5 (01-10), H1 12000 on day 15 (01-20).
    assert lines[1 + 5] == "5,12000,6000" and lines[1 + 7] == "7,18000,6000"
    assert lines[1 + 15] == "15,18000,18000"
    assert client.get("/console/indicators?mutual=MB&period=2025").status_code == 404
    html = client.get("/console/indicators?period=2026-01").get_data(as_text=True)
    assert 'id="fig-SMS_DLR"' in html and 'id="target-form"' in html


def test_a_section_sees_only_its_section(console_app: Flask, db: Session, world: Scenario) -> None:
    nord = world.sections["Nord"]
    scope = ScopeRef(ScopeKind.SECTION, mutual_id=world.a.id, section_id=nord.id)
    client = signed(console_app, db, "nord@x.org", Role.VIEWER, scope)
    html = client.get("/console/indicators?period=2025").get_data(as_text=True)
    assert 'id="fig-HH"><td>HH</td><td></td><td>3</td>' in html  # Nord only: H1, H2, H3
    assert "MA/Sud" not in html and "SMS" not in html.split('id="figures"')[1].split("</table>")[0]
    assert client.get("/console/indicators?period=2025&section=Sud").status_code == 404


def test_a_manager_enters_a_target(console_app: Flask, db: Session, world: Scenario) -> None:
    client = signed(
        console_app, db, "ma@x.org", Role.MANAGER, ScopeRef(ScopeKind.MUTUAL, mutual_id=world.a.id)
    )
    reply = post(
        client,
        "/console/indicators/targets?mutual=MA&period=2025",
        {"section": "Sud", "year": "2025", "population": "40"},
        follow=True,
    )
    assert reply.status_code == 200
    saved = db.scalars(select(IndicatorTarget)).one()
    assert (saved.section_id, saved.year, saved.population) == (world.sections["Sud"].id, 2025, 40)
    assert [a.action for a in actions(db)][-1] == "indicators.target"
    refused = post(
        client,
        "/console/indicators/targets?mutual=MA&period=2025",
        {"section": "Nowhere", "year": "2025", "population": "40"},
        follow=True,
    )
    assert "Cible refusée" in refused.get_data(as_text=True) or refused.status_code == 200
    viewer = signed(
        console_app, db, "v@x.org", Role.VIEWER, ScopeRef(ScopeKind.MUTUAL, mutual_id=world.a.id)
    )
    denied = post(
        viewer,
        "/console/indicators/targets?mutual=MA",
        {"section": "Sud", "year": "2025", "population": "4"},
    )
    assert denied.status_code == 403


def test_the_api_answers_the_cli_document(console_app: Flask, db: Session, world: Scenario) -> None:
    secret = token(db, "erp", Role.VIEWER, _union(world))
    db.commit()
    client = console_app.test_client()
    reply = client.get(
        "/api/v1/indicators?period=2025&mutual=MA&section=Nord", headers=bearer(secret)
    )
    doc = body(reply)
    assert doc["scope"] == {"mutual": "MA", "section": "Nord"} and doc["period"] == "2025"
    paid = next(f for f in doc["indicators"] if f["code"] == "PAID_UP")
    assert paid == {"code": "PAID_UP", "numerator": 3, "denominator": 3, "value": 1.0}
    union = body(client.get("/api/v1/indicators?period=2025", headers=bearer(secret)))
    assert next(f for f in union["indicators"] if f["code"] == "M.6")["numerator"] == 48000
    for bad, status in (
        ("period=2025-13", 400),
        ("", 400),
        ("period=2025&mutual=ZZ", 404),
        ("period=2025&section=Nord", 400),
        ("period=2025&mutual=MA&section=X", 404),
    ):
        assert client.get(f"/api/v1/indicators?{bad}", headers=bearer(secret)).status_code == status
