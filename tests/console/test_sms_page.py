"""`/console/sms` (issue 16): the outbox of the scope with its filters and keyset pages, and
"resend" of a FAILED message (a QUEUED copy, its send job enqueued after commit, one
`operator_actions` row); isolation by mutual and section; viewers cannot write."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import redis
from flask.testing import FlaskClient
from rq import Queue
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import Household, OutboxMessage, OutboxStatus, Role, ScopeKind
from gateway.queueing import SMS
from gateway.services.operators import ScopeRef
from tests.console.conftest import TwoMutuals
from tests.support.console import NOW, actions, csrf_token, make_user, post, sign_in
from tests.support.factories import make_household
from tests.support.ops_console import action_count, sms

S = OutboxStatus


@pytest.fixture
def homes(db: Session, two: TwoMutuals) -> tuple[Household, Household, Household]:
    """A household of A in section Nord, one of A without a section, one of B."""
    north = make_household(db, two.a)
    north.section_id = two.section_a.id
    return north, make_household(db, two.a), make_household(db, two.b)


def _rows(client: FlaskClient, query: str = "") -> str:
    reply = client.get(f"/console/sms{query}")
    assert reply.status_code == 200, reply.status_code
    return reply.get_data(as_text=True)


def test_the_outbox_of_the_scope_and_its_filters(
    db: Session, two: TwoMutuals, homes: tuple[Household, ...], client: FlaskClient
) -> None:
    north, plain, theirs = homes
    failed = sms(db, north, S.FAILED, error="Failed: AbsentSubscriber")
    delivered = sms(db, plain, S.DELIVERED, phone="+22670445566")
    old = sms(db, plain, S.DELIVERED, at=NOW - dt.timedelta(days=2))
    of_b = sms(db, theirs, S.FAILED)
    make_user(db, "gerant@ma.bf", Role.MANAGER, two.scope_a)
    make_user(db, "nord@ma.bf", Role.VIEWER, two.section_scope_a)
    db.commit()
    sign_in(client, "gerant@ma.bf")
    html = _rows(client)
    shown = {m.id for m in (failed, delivered, old, of_b) if f'data-id="{m.id}"' in html}
    assert shown == {failed.id, delivered.id}  # the last 24 hours of A only
    assert "+22670****66" in html and "+22670445566" not in html
    assert "Failed: AbsentSubscriber" in html
    assert f'data-id="{old.id}"' in _rows(client, "?from=2026-02-28&to=2026-02-28")
    errors = _rows(client, "?errors=1")
    assert f'data-id="{failed.id}"' in errors and f'data-id="{delivered.id}"' not in errors
    status = _rows(client, "?status=DELIVERED")
    assert f'data-id="{delivered.id}"' in status and f'data-id="{failed.id}"' not in status
    in_north = _rows(client, f"?section={two.section_a.id}")
    assert f'data-id="{failed.id}"' in in_north and f'data-id="{delivered.id}"' not in in_north
    assert f'data-id="{of_b.id}"' not in _rows(client, f"?mutual={two.b.id}")
    assert client.get("/console/sms?status=LOST").status_code == 400
    assert client.get("/console/sms?from=yesterday").status_code == 400
    assert client.get("/console/sms?section=x").status_code == 400
    assert client.get("/console/sms?mutual=99999999999999999999").status_code == 400
    assert client.get("/console/sms?section=²").status_code == 400
    assert client.get("/console/sms?to=9999-12-31").status_code == 400
    assert client.get("/console/sms?after=garbage").status_code == 400
    section_view = client.application.test_client()
    sign_in(section_view, "nord@ma.bf")
    only_north = _rows(section_view)
    assert f'data-id="{failed.id}"' in only_north and f'data-id="{delivered.id}"' not in only_north
    assert "Resend" not in only_north  # a viewer is offered no write


def test_pages_follow_each_other_with_their_filters(
    db: Session, two: TwoMutuals, homes: tuple[Household, ...], client: FlaskClient
) -> None:
    _, plain, _ = homes
    made = [sms(db, plain, S.FAILED, at=NOW - dt.timedelta(minutes=n)) for n in range(51)]
    make_user(db, "gerant@ma.bf", Role.MANAGER, two.scope_a)
    db.commit()
    sign_in(client, "gerant@ma.bf")
    first = _rows(client, "?errors=1")
    assert first.count('class="sms"') == 50 and f'data-id="{made[-1].id}"' not in first
    link = first.split('id="next" href="')[1].split('"')[0].replace("&amp;", "&")
    assert "errors=1" in link
    second = client.get(link).get_data(as_text=True)
    assert second.count('class="sms"') == 1 and f'data-id="{made[-1].id}"' in second
    assert 'id="next"' not in second


def test_resend_a_failed_message(
    db: Session,
    two: TwoMutuals,
    homes: tuple[Household, ...],
    client: FlaskClient,
    redis_client: redis.Redis[bytes],
) -> None:
    north, plain, theirs = homes
    failed = sms(db, north, S.FAILED)
    delivered = sms(db, plain, S.DELIVERED)
    of_b = sms(db, theirs, S.FAILED)
    manager = make_user(db, "gerant@ma.bf", Role.MANAGER, two.scope_a)
    db.commit()
    delivered_id, b_id = delivered.id, of_b.id
    sign_in(client, "gerant@ma.bf")
    url = f"/console/sms/{failed.id}/resend"
    reply = post(client, url, {"reason": "member topped up"}, follow=True)
    assert "Queued again as message" in reply.get_data(as_text=True)
    [row] = [a for a in actions(db) if a.user_id is not None]
    assert (row.action, row.object_id, row.user_id, row.reason) == (
        "sms.resend",
        str(failed.id),
        manager.id,
        "member topped up",
    )
    assert (row.mutual_id, row.section_id) == (two.a.id, two.section_a.id)
    copy = db.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key.is_not(None))).one()
    assert (copy.status, copy.phone, copy.text) == (S.QUEUED, failed.phone, failed.text)
    copy_id = copy.id
    db.rollback()
    assert row.after == {"copy_id": copy_id}
    jobs = Queue(SMS, connection=redis_client).get_jobs()
    assert [job.args for job in jobs] == [(str(copy_id),)]  # enqueued once committed
    again = post(client, url, {"reason": "again"}, follow=True)
    assert "Already resent as message" in again.get_data(as_text=True)
    before = action_count(db)
    refused = post(client, f"/console/sms/{delivered_id}/resend", {"reason": "x"}, follow=True)
    assert "Only a FAILED message" in refused.get_data(as_text=True)
    assert post(client, f"/console/sms/{b_id}/resend", {"reason": "x"}).status_code == 404
    assert post(client, "/console/sms/999999/resend", {"reason": "x"}).status_code == 404
    assert action_count(db) == before


def test_a_resend_needs_a_reason_a_token_and_a_writer(
    db: Session, two: TwoMutuals, homes: tuple[Household, ...], client: FlaskClient
) -> None:
    failed = sms(db, homes[1], S.FAILED)
    make_user(db, "gerant@ma.bf", Role.MANAGER, two.scope_a)
    make_user(db, "lecteur@ma.bf", Role.VIEWER, two.scope_a)
    make_user(db, "tresor@ma.bf", Role.FINANCE, two.scope_a)
    db.commit()
    url = f"/console/sms/{failed.id}/resend"
    failed_id = failed.id
    before = action_count(db)
    sign_in(client, "gerant@ma.bf")
    blank = post(client, url, {"reason": "  "}, follow=True)
    assert "a reason is required" in blank.get_data(as_text=True)
    csrf_token(client, "/console/")
    assert client.post(url, data={"reason": "no token"}).status_code == 400
    for login in ("lecteur@ma.bf", "tresor@ma.bf"):
        other = client.application.test_client()
        sign_in(other, login)
        assert post(other, url, {"reason": "x"}).status_code == 403
    assert action_count(db) == before
    assert db.scalar(select(OutboxMessage.status).where(OutboxMessage.id == failed_id)) == S.FAILED


def _section_options(html: str) -> list[str]:
    found = re.search(r'<select name="section">(.*?)</select>', html, re.S)
    return re.findall(r">([^<]+)</option>", found.group(1))[1:] if found else []


def test_sections_to_filter_on_are_those_of_one_mutual(
    db: Session, two: TwoMutuals, client: FlaskClient
) -> None:
    """A scope of several mutuals lists no section until a mutual (or a section) is chosen:
    then that mutual's; a mutual's operator always sees its own (issue 16: a national
    deployment has thousands of sections)."""
    make_user(db, "admin@x.bf", Role.ADMIN, ScopeRef(ScopeKind.ALL))
    make_user(db, "gerant@ma.bf", Role.MANAGER, two.scope_a)
    db.commit()
    sign_in(client, "admin@x.bf")
    assert _section_options(_rows(client)) == []
    assert _section_options(_rows(client, f"?mutual={two.b.id}")) == ["MB/Sud"]
    assert _section_options(_rows(client, f"?section={two.section_a.id}")) == ["MA/Nord"]
    client.post("/console/logout", data={"csrf_token": csrf_token(client, "/console/sms")})
    sign_in(client, "gerant@ma.bf")
    assert _section_options(_rows(client)) == ["MA/Nord"]
