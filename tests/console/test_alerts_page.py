"""`/console/alerts` (issue 16): open alerts of the scope, resolved ones on request; resolving
needs a note (kept as the reason of its one `operator_actions` row); isolation; viewers and
forms without a CSRF token are refused."""

from __future__ import annotations

import datetime as dt

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import Alert, Role
from tests.console.conftest import TwoMutuals
from tests.support.console import NOW, actions, csrf_token, make_user, post, sign_in
from tests.support.ops_console import action_count, alert


def _page(client: FlaskClient, query: str = "") -> str:
    reply = client.get(f"/console/alerts{query}")
    assert reply.status_code == 200, reply.status_code
    return reply.get_data(as_text=True)


def test_open_alerts_of_the_scope_resolved_with_a_note(
    db: Session, two: TwoMutuals, client: FlaskClient
) -> None:
    mine = alert(db, two.a)
    old = alert(db, two.a, "payment_held", at=NOW - dt.timedelta(days=60))
    done = alert(db, two.a, "agent_cash", resolved_at=NOW - dt.timedelta(days=1))
    theirs = alert(db, two.b)
    deployment = alert(db, None, "sms_stale_sending")
    manager = make_user(db, "gerant@ma.bf", Role.MANAGER, two.scope_a)
    make_user(db, "nord@ma.bf", Role.MANAGER, two.section_scope_a)
    db.commit()
    ids = {
        name: row.id
        for name, row in [
            ("mine", mine),
            ("old", old),
            ("done", done),
            ("theirs", theirs),
            ("deployment", deployment),
        ]
    }
    where, manager_id = two.a.id, manager.id
    sign_in(client, "gerant@ma.bf")
    html = _page(client)
    shown = {name for name, i in ids.items() if f'data-id="{i}"' in html}
    assert shown == {"mine", "old"}  # every open alert of A, however old
    assert "From 2026" not in html  # so no window is said to apply
    assert client.get("/console/alerts?after=garbage").status_code == 400
    resolved = _page(client, "?status=resolved")
    assert "From 2026-01-31 10:00 to 2026-03-02 10:00 UTC." in resolved
    assert f'data-id="{ids["done"]}"' in resolved and f'data-id="{ids["mine"]}"' not in resolved
    recent = _page(client, "?from=2026-02-01")
    assert f'data-id="{ids["old"]}"' not in recent and f'data-id="{ids["mine"]}"' in recent
    before = action_count(db)
    url = f"/console/alerts/{ids['mine']}/resolve"
    reply = post(client, url, {"reason": "topped up the SMS account"}, follow=True)
    assert "Alert resolved." in reply.get_data(as_text=True)
    [row] = actions(db)[before:]
    assert (row.action, row.object_id, row.user_id, row.reason, row.mutual_id) == (
        "alert.resolve",
        str(ids["mine"]),
        manager_id,
        "topped up the SMS account",
        where,
    )
    assert db.scalar(select(Alert.resolved_at).where(Alert.id == ids["mine"])) == NOW
    db.rollback()
    assert f'data-id="{ids["mine"]}"' in _page(client, "?status=resolved")
    twice = post(client, url, {"reason": "again"}, follow=True)
    assert "already resolved" in twice.get_data(as_text=True)
    for other in ("theirs", "deployment"):
        assert (
            post(client, f"/console/alerts/{ids[other]}/resolve", {"reason": "x"}).status_code
            == 404
        )
    assert action_count(db) == before + 1
    section = client.application.test_client()
    sign_in(section, "nord@ma.bf")
    assert 'class="alert"' not in _page(section)  # alerts are mutual-wide: no section sees them
    assert (
        post(section, f"/console/alerts/{ids['old']}/resolve", {"reason": "x"}).status_code == 404
    )


def test_resolving_needs_a_note_a_token_and_a_writer(
    db: Session, two: TwoMutuals, client: FlaskClient
) -> None:
    mine = alert(db, two.a)
    make_user(db, "lecteur@ma.bf", Role.VIEWER, two.scope_a)
    make_user(db, "tresor@ma.bf", Role.FINANCE, two.scope_a)
    db.commit()
    url, alert_id = f"/console/alerts/{mine.id}/resolve", mine.id
    before = action_count(db)
    viewer = client.application.test_client()
    sign_in(viewer, "lecteur@ma.bf")
    assert "Resolve" not in _page(viewer)
    assert post(viewer, url, {"reason": "x"}).status_code == 403
    sign_in(client, "tresor@ma.bf")
    blank = post(client, url, {"reason": ""}, follow=True)
    assert "a reason is required" in blank.get_data(as_text=True)
    csrf_token(client, "/console/")
    assert client.post(url, data={"reason": "no token"}).status_code == 400
    assert action_count(db) == before
    assert db.scalar(select(Alert.resolved_at).where(Alert.id == alert_id)) is None
