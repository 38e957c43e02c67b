"""The keyset pagination helper (console.md): newest first on (occurred_at, id), the cursor
after the last row, every row exactly once, ties on occurred_at broken by id."""

from __future__ import annotations

import datetime as dt

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.console.paging import (
    PAGE_SIZE,
    BadCursor,
    Page,
    decode_cursor,
    encode_cursor,
    keyset_page,
)
from gateway.models import OperatorAction, Role
from gateway.services.operators import Actor, Where, record_action
from tests.console.conftest import TwoMutuals
from tests.support.console import NOW, make_user, sign_in


def test_pages_walk_every_row_once_newest_first(db: Session) -> None:
    for n in range(7):  # pairs of rows share a time: the id breaks the tie
        at = NOW + dt.timedelta(minutes=n // 2)
        record_action(db, Actor(None), "probe", ("probe", n), now=at)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page: Page[OperatorAction] = keyset_page(
            db, select(OperatorAction), OperatorAction.occurred_at, OperatorAction.id, cursor, 3
        )
        seen += [row.object_id for row in page.items]
        pages += 1
        if page.next is None:
            break
        cursor = page.next
    assert seen == ["6", "5", "4", "3", "2", "1", "0"] and pages == 3


def test_a_full_last_page_has_no_next(db: Session) -> None:
    for n in range(3):
        record_action(db, Actor(None), "probe", ("probe", n), now=NOW)
    page: Page[OperatorAction] = keyset_page(
        db, select(OperatorAction), OperatorAction.occurred_at, OperatorAction.id, None, 3
    )
    assert len(page.items) == 3 and page.next is None


def test_cursor_round_trip_and_refusals() -> None:
    assert decode_cursor(encode_cursor(NOW, 42)) == (NOW, 42)
    for bad in ("", "!!!", encode_cursor(NOW, 1)[:-3] + "AAA", "MjAyNi0wMS0wMXwx"):
        with pytest.raises(BadCursor):
            decode_cursor(bad)


def test_the_audit_page_pages_with_its_cursor(
    db: Session, two: TwoMutuals, client: FlaskClient
) -> None:
    make_user(db, "admin@ma.bf", Role.ADMIN, two.scope_a)
    for n in range(PAGE_SIZE + 4):
        record_action(
            db, Actor(None), "probe", ("probe", n), now=NOW, where=Where(mutual_id=two.a.id)
        )
    db.commit()
    sign_in(client, "admin@ma.bf")
    first = client.get("/console/audit").get_data(as_text=True)
    assert first.count('class="action"') == PAGE_SIZE
    cursor = first.split('id="next" href="/console/audit?after=')[1].split('"')[0]
    second = client.get(f"/console/audit?after={cursor}").get_data(as_text=True)
    assert second.count('class="action"') == 5 and 'id="next"' not in second  # + user.add
    assert client.get("/console/audit?after=garbage").status_code == 400
