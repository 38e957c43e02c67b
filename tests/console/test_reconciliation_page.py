"""`/console/reconciliation` (payments.md, Reconciliation; issue 16): exceptions listed inside
the scope, assign / ignore / approve through the reconciliation services with one
`operator_actions` row each; maker-checker: above the threshold an assignment waits, the same
operator cannot approve it, a second one can."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import (
    ActionState,
    Household,
    Mutual,
    ReconAction,
    Role,
    StatementDay,
    StatementFile,
    SuspenseItem,
)
from gateway.services.payments import effects
from tests.console.conftest import TwoMutuals
from tests.support.console import NOW, actions, post, signed
from tests.support.factories import make_household

THRESHOLD = 10_000


def held(
    db: Session, mutual: Mutual, amount: int, txn: str, household: Household | None = None
) -> SuspenseItem:
    """A suspense line of `mutual` (booked on arrival), optionally of a known household."""
    item = effects.to_suspense(
        db,
        provider="sandbox",
        provider_txn_id=txn,
        amount=amount,
        now=NOW,
        reason="unknown_reference",
    )
    item.mutual_id = mutual.id
    item.household_id = household.id if household else None
    db.flush()
    return item


@pytest.fixture
def lines(db: Session, two: TwoMutuals) -> dict[str, int]:
    """Mutual A (threshold 10 000): a small and a large line, and one of a household of
    section Nord; mutual B: a line A's operators must never see."""
    two.a.payment_settings = {"approval_threshold": THRESHOLD}
    home = make_household(db, two.a, number="A-1")
    home_nord = make_household(db, two.a, number="A-2")
    home_nord.section_id = two.section_a.id
    make_household(db, two.b, number="B-1")
    found = {
        "small": held(db, two.a, 3000, "TX-S").id,
        "large": held(db, two.a, 25_000, "TX-L").id,
        "nord": held(db, two.a, 4000, "TX-N", home_nord).id,
        "b": held(db, two.b, 5000, "TX-B").id,
    }
    assert home.id
    db.commit()
    return found


def test_the_list_shows_only_the_scope(
    db: Session, two: TwoMutuals, lines: dict[str, int], console_app: Flask
) -> None:
    manager = signed(console_app, db, "gerant@ma.bf", Role.MANAGER, two.scope_a)
    html = manager.get("/console/reconciliation").get_data(as_text=True)
    for name in ("small", "large", "nord"):
        assert f'id="suspense-{lines[name]}"' in html
    assert f'id="suspense-{lines["b"]}"' not in html and "TX-B" not in html
    section = signed(console_app, db, "nord@ma.bf", Role.MANAGER, two.section_scope_a)
    html = section.get("/console/reconciliation").get_data(as_text=True)
    assert f'id="suspense-{lines["nord"]}"' in html  # its household is of section Nord
    assert f'id="suspense-{lines["small"]}"' not in html  # no household: the mutual's


def test_filters_and_keyset_paging(
    db: Session,
    two: TwoMutuals,
    lines: dict[str, int],
    console_app: Flask,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gateway.console import paging

    monkeypatch.setattr(paging, "PAGE_SIZE", 2)
    monkeypatch.setattr(paging.keyset_page, "__defaults__", (2,))
    manager = signed(console_app, db, "gerant@ma.bf", Role.MANAGER, two.scope_a)
    first = manager.get("/console/reconciliation").get_data(as_text=True)
    assert first.count('class="suspense"') == 2 and 'id="next"' in first
    cursor = first.split('id="next" href="')[1].split('"')[0].replace("&amp;", "&")
    second = manager.get(cursor).get_data(as_text=True)
    assert second.count('class="suspense"') == 1 and 'id="next"' not in second
    assert (
        manager.get("/console/reconciliation?state=IGNORED")
        .get_data(as_text=True)
        .count('class="suspense"')
        == 0
    )
    assert manager.get("/console/reconciliation?after=nonsense").status_code == 400
    assert manager.get("/console/reconciliation?state=NOPE").status_code == 400
    other = manager.get(f"/console/reconciliation?provider=none&mutual={two.a.id}")
    assert other.get_data(as_text=True).count('class="suspense"') == 0


def test_assign_below_the_threshold_is_done_with_one_row(
    db: Session, two: TwoMutuals, lines: dict[str, int], console_app: Flask
) -> None:
    manager = signed(console_app, db, "gerant@ma.bf", Role.MANAGER, two.scope_a)
    before = len(actions(db))
    form = {"household": "A-1", "reason": "the member called"}
    reply = post(manager, f"/console/reconciliation/{lines['small']}/assign", form, follow=True)
    assert "assigned to household A-1" in reply.get_data(as_text=True)
    added = actions(db)[before:]
    assert [(a.action, a.object_id, a.reason, a.mutual_id) for a in added] == [
        ("reconciliation.assign", str(lines["small"]), "the member called", two.a.id)
    ]
    assert added[0].after and added[0].after["state"] == "DONE"
    item = db.get_one(SuspenseItem, lines["small"])
    assert (item.state, item.resolved_by) == ("ASSIGNED", "gerant@ma.bf")
    db.rollback()


def test_maker_checker_above_the_threshold(
    db: Session, two: TwoMutuals, lines: dict[str, int], console_app: Flask
) -> None:
    maker = signed(console_app, db, "gerant@ma.bf", Role.MANAGER, two.scope_a)
    checker = signed(console_app, db, "tresor@ma.bf", Role.FINANCE, two.scope_a)
    before = len(actions(db))
    form = {"household": "A-1", "reason": "paid twice by mistake"}
    reply = post(maker, f"/console/reconciliation/{lines['large']}/assign", form, follow=True)
    html = reply.get_data(as_text=True)
    assert "waits for a second person" in html
    pending = db.scalars(select(ReconAction).where(ReconAction.suspense_id == lines["large"])).one()
    action_id, state = pending.id, pending.state
    db.rollback()
    assert state == ActionState.PENDING and f'id="approval-{action_id}"' in html
    # The same person is refused, clearly, and nothing is written.
    url = f"/console/reconciliation/actions/{action_id}/approve"
    refused = post(maker, url, {"reason": "ok"}, follow=True).get_data(as_text=True)
    assert "another person must approve it" in refused
    assert len(actions(db)) == before + 1
    assert db.get_one(SuspenseItem, lines["large"]).state == "OPEN"
    db.rollback()
    # Without a reason: refused too.
    assert "reason is required" in post(checker, url, {}, follow=True).get_data(as_text=True)
    # A second operator approves: the money moves, one more row.
    done = post(checker, url, {"reason": "checked the statement"}, follow=True)
    assert f"Assignment #{action_id} approved" in done.get_data(as_text=True)
    added = actions(db)[before:]
    assert [(a.action, a.reason) for a in added] == [
        ("reconciliation.assign", "paid twice by mistake"),
        ("reconciliation.approve", "checked the statement"),
    ]
    assert added[1].before == {"asked_by": "gerant@ma.bf"}
    item = db.get_one(SuspenseItem, lines["large"])
    approved = db.get_one(ReconAction, action_id)
    assert (item.state, approved.approved_by) == ("ASSIGNED", "tresor@ma.bf")
    db.rollback()


def test_ignore_needs_a_reason_and_leaves_one_row(
    db: Session, two: TwoMutuals, lines: dict[str, int], console_app: Flask
) -> None:
    manager = signed(console_app, db, "tresor@ma.bf", Role.FINANCE, two.scope_a)
    before = len(actions(db))
    url = f"/console/reconciliation/{lines['small']}/ignore"
    assert "reason is required" in post(manager, url, {}, follow=True).get_data(as_text=True)
    assert len(actions(db)) == before
    post(manager, url, {"reason": "a provider test payment"})
    added = actions(db)[before:]
    assert [(a.action, a.reason) for a in added] == [
        ("reconciliation.ignore", "a provider test payment")
    ]
    again = post(manager, url, {"reason": "twice"}, follow=True).get_data(as_text=True)
    assert "already IGNORED" in again and len(actions(db)) == before + 1


def test_unknown_household_and_another_mutuals_household_are_refused(
    db: Session, two: TwoMutuals, lines: dict[str, int], console_app: Flask
) -> None:
    manager = signed(console_app, db, "gerant@ma.bf", Role.MANAGER, two.scope_a)
    before = len(actions(db))
    for number in ("NOPE", "B-1"):
        form = {"household": number, "reason": "x"}
        reply = post(manager, f"/console/reconciliation/{lines['small']}/assign", form, follow=True)
        assert f"No household {number}" in reply.get_data(as_text=True)
    assert len(actions(db)) == before


def test_isolation_viewer_and_csrf(
    db: Session, two: TwoMutuals, lines: dict[str, int], console_app: Flask
) -> None:
    manager = signed(console_app, db, "gerant@ma.bf", Role.MANAGER, two.scope_a)
    form = {"household": "B-1", "reason": "x"}
    assert post(manager, f"/console/reconciliation/{lines['b']}/assign", form).status_code == 404
    assert post(manager, f"/console/reconciliation/{lines['b']}/ignore", form).status_code == 404
    section = signed(console_app, db, "nord@ma.bf", Role.MANAGER, two.section_scope_a)
    url = f"/console/reconciliation/{lines['small']}/ignore"
    assert post(section, url, {"reason": "x"}).status_code == 404
    viewer = signed(console_app, db, "vue@ma.bf", Role.VIEWER, two.scope_a)
    shown = viewer.get("/console/reconciliation")
    assert shown.status_code == 200 and f'id="suspense-{lines["small"]}"' in shown.text
    assert "/assign" not in shown.text and "/ignore" not in shown.text  # no forms to write
    assert post(viewer, url, {"reason": "x"}).status_code == 403
    no_token = manager.post(url, data={"reason": "x"})
    assert no_token.status_code == 400
    assert db.get_one(SuspenseItem, lines["small"]).state == "OPEN"
    db.rollback()


def test_approval_of_another_mutual_is_404(
    db: Session, two: TwoMutuals, lines: dict[str, int], console_app: Flask
) -> None:
    two.b.payment_settings = {"approval_threshold": 1000}
    db.commit()
    maker_b = signed(console_app, db, "gerant@mb.bf", Role.MANAGER, two.scope_b)
    post(
        maker_b, f"/console/reconciliation/{lines['b']}/assign", {"household": "B-1", "reason": "x"}
    )
    action_id = db.scalars(
        select(ReconAction.id).where(ReconAction.suspense_id == lines["b"])
    ).one()
    db.rollback()
    manager_a = signed(console_app, db, "gerant@ma.bf", Role.MANAGER, two.scope_a)
    assert f'id="approval-{action_id}"' not in manager_a.get("/console/reconciliation").get_data(
        as_text=True
    )
    url = f"/console/reconciliation/actions/{action_id}/approve"
    assert post(manager_a, url, {"reason": "x"}).status_code == 404


def test_imports_and_daily_report(
    db: Session, two: TwoMutuals, lines: dict[str, int], console_app: Flask
) -> None:
    day = NOW.date() - dt.timedelta(days=1)
    for mutual, name in ((two.a, "a.csv"), (two.b, "b.csv")):
        statement = StatementFile(
            mutual_id=mutual.id,
            provider="sandbox",
            sha256=name * 8,
            filename=name,
            layout="generic",
            lines=3,
            imported_at=NOW,
        )
        db.add(statement)
        db.flush()
        db.add(
            StatementDay(
                file_id=statement.id,
                day=day,
                mutual_id=mutual.id,
                provider="sandbox",
                lines=3,
                paid=3,
                collected=18000,
                fees=0,
                newest_at=NOW,
            )
        )
    db.commit()
    manager = signed(console_app, db, "gerant@ma.bf", Role.MANAGER, two.scope_a)
    html = manager.get("/console/reconciliation").get_data(as_text=True)
    assert "a.csv" in html and "b.csv" not in html
    report = f"/console/reconciliation/report/{two.a.id}/sandbox/{day.isoformat()}"
    assert f'href="{report}"' in html
    shown = manager.get(report)
    assert shown.status_code == 200 and 'id="report"' in shown.get_data(as_text=True)
    other = f"/console/reconciliation/report/{two.b.id}/sandbox/{day.isoformat()}"
    assert manager.get(other).status_code == 404
    assert manager.get(f"/console/reconciliation/report/{two.a.id}/sandbox/bad").status_code == 404
    section = signed(console_app, db, "nord@ma.bf", Role.MANAGER, two.section_scope_a)
    assert section.get(report).status_code == 404  # statements are the mutual's
