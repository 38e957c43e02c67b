"""`/console/ussd` (console.md, issue 16): the window's sessions of the scope (hops grouped by
session, with the end status), filters, keyset paging, and the drop-off per screen."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from gateway.models import Role, ScopeKind
from gateway.services.operators import ScopeRef
from tests.console.conftest import TwoMutuals
from tests.support.console import NOW, make_user, sign_in
from tests.support.household import ussd_session

A_PHONE, B_PHONE = "+22670112233", "+22676445566"


@pytest.fixture
def sessions(db: Session, two: TwoMutuals) -> None:
    hour = dt.timedelta(hours=1)
    ussd_session(db, two.a, A_PHONE, "A-done", NOW - 3 * hour, status="Success")
    ussd_session(db, two.a, A_PHONE, "A-drop", NOW - 2 * hour, screens=("member_menu",))
    ussd_session(db, two.a, A_PHONE, "A-fail", NOW - 90 * dt.timedelta(minutes=1), status="Failed")
    ussd_session(db, two.a, A_PHONE, "A-open", NOW - hour, status=None)
    ussd_session(db, two.a, A_PHONE, "A-old", NOW - 30 * hour, status="Incomplete")
    ussd_session(db, two.b, B_PHONE, "B-drop", NOW - hour, screens=("visitor_menu",))
    db.commit()


def shown(client: FlaskClient, query: str = "") -> list[str]:
    html = client.get(f"/console/ussd{query}").get_data(as_text=True)
    return re.findall(r'data-session="([^"]+)"', html)


def signed(client: FlaskClient, db: Session, role: Role, scope: ScopeRef) -> None:
    make_user(db, "op@x.bf", role, scope)
    db.commit()
    assert sign_in(client, "op@x.bf").status_code == 302


def test_a_mutual_sees_its_sessions_of_the_last_day_newest_first(
    client: FlaskClient, db: Session, two: TwoMutuals, sessions: None
) -> None:
    signed(client, db, Role.VIEWER, two.scope_a)
    assert shown(client) == ["A-open", "A-fail", "A-drop", "A-done"]
    assert shown(client, "?from=2026-03-01T00:00") == [
        "A-open",
        "A-fail",
        "A-drop",
        "A-done",
        "A-old",
    ]
    assert client.get("/console/ussd?mutual=MB").status_code == 404


def test_filters_status_and_errors(
    client: FlaskClient, db: Session, two: TwoMutuals, sessions: None
) -> None:
    signed(client, db, Role.VIEWER, two.scope_a)
    assert shown(client, "?status=Incomplete") == ["A-drop"]
    assert shown(client, "?status=open") == ["A-open"]
    assert shown(client, "?errors=1") == ["A-fail"]
    assert shown(client, "?mutual=MA&status=Success") == ["A-done"]
    assert client.get("/console/ussd?status=nonsense").status_code == 400
    assert client.get("/console/ussd?from=yesterday").status_code == 400


def test_drop_off_per_screen_is_the_scopes(
    client: FlaskClient, db: Session, two: TwoMutuals, sessions: None
) -> None:
    signed(client, db, Role.VIEWER, two.scope_a)
    html = client.get("/console/ussd").get_data(as_text=True)
    drops = re.findall(r'<tr class="drop"><td>([^<]+)</td><td>(\d+)</td>', html)
    assert sorted(drops) == [("member_menu", "1"), ("member_pay", "1")]


def test_the_whole_deployment_sees_both_and_a_section_none(
    client: FlaskClient, db: Session, two: TwoMutuals, sessions: None, console_app: object
) -> None:
    signed(client, db, Role.VIEWER, ScopeRef(ScopeKind.ALL))
    assert shown(client) == ["B-drop", "A-open", "A-fail", "A-drop", "A-done"]
    other = console_app.test_client()  # type: ignore[attr-defined]
    make_user(db, "s@x.bf", Role.VIEWER, two.section_scope_a)
    db.commit()
    assert sign_in(other, "s@x.bf").status_code == 302
    assert shown(other) == []  # USSD sessions are mutual-wide, like campaigns


def test_sessions_page_with_a_cursor(
    client: FlaskClient,
    db: Session,
    two: TwoMutuals,
    sessions: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gateway.console.pages import sessions as page

    monkeypatch.setattr(page, "PAGE", 3)
    signed(client, db, Role.VIEWER, two.scope_a)
    html = client.get("/console/ussd").get_data(as_text=True)
    first = re.findall(r'data-session="([^"]+)"', html)
    following = re.search(r'id="next" href="([^"]+)"', html)
    assert first == ["A-open", "A-fail", "A-drop"] and following
    assert shown(client, "?" + following.group(1).split("?", 1)[1].replace("&amp;", "&")) == [
        "A-done"
    ]
    assert client.get("/console/ussd?after=nonsense").status_code == 400
