"""`/console/payments` (issue 16): intents of the scope with states and flags, the stuck ones
first (the sweeper's terms), the detail page with provider events and ledger postings, and
the release of a held payment (issue 14) by finance: one `operator_actions` row."""

from __future__ import annotations

import datetime as dt

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import (
    Household,
    IntentFlag,
    IntentState,
    Payment,
    PaymentEvent,
    PaymentIntent,
    Role,
)
from gateway.services.coverage import receive_payment
from gateway.services.payments.stuck import why_stuck
from gateway.services.payments.sweeps import ABANDONED
from tests.console.conftest import TwoMutuals
from tests.support.console import NOW, actions, csrf_token, make_user, post, sign_in
from tests.support.factories import make_household
from tests.support.ops_console import action_count, held_payment, intent

IS = IntentState


@pytest.fixture
def homes(db: Session, two: TwoMutuals) -> tuple[Household, Household, Household]:
    """A household of A in section Nord, one of A without a section, one of B."""
    north = make_household(db, two.a, number="A-N")
    north.section_id = two.section_a.id
    return north, make_household(db, two.a, number="A-1"), make_household(db, two.b, number="B-1")


def _page(client: FlaskClient, url: str = "/console/payments") -> str:
    reply = client.get(url)
    assert reply.status_code == 200, reply.status_code
    return reply.get_data(as_text=True)


def _section(html: str, table: str) -> str:
    """The HTML of one table (`stuck`, `held`, `intents`)."""
    return html.split(f'<table id="{table}">')[1].split("</table>")[0]


def test_stuck_intents_first_then_all_of_the_scope(
    db: Session, two: TwoMutuals, homes: tuple[Household, ...], client: FlaskClient
) -> None:
    north, plain, theirs = homes
    escalated = intent(db, plain, IS.EXPIRED, flag=IntentFlag.ESCALATED)
    past = intent(db, north, IS.PENDING, at=NOW - dt.timedelta(hours=3))
    lost = intent(
        db, plain, IS.CREATED, at=NOW - dt.timedelta(minutes=5), expires_in=dt.timedelta(hours=1)
    )
    gave_up = intent(db, plain, IS.PENDING, at=NOW - dt.timedelta(minutes=1))
    db.add(
        PaymentEvent(
            provider="sandbox",
            event_key="cb-1",
            source="callback",
            intent_id=gave_up.id,
            state="SUCCESSFUL",
            outcome=ABANDONED,
            received_at=NOW - dt.timedelta(hours=30),
        )
    )
    fine = intent(db, plain, IS.SUCCEEDED)
    fresh = intent(db, plain, IS.PENDING, at=NOW - dt.timedelta(minutes=1))
    old = intent(db, plain, IS.SUCCEEDED, at=NOW - dt.timedelta(days=40))
    of_b = intent(db, theirs, IS.PENDING, at=NOW - dt.timedelta(hours=3))
    make_user(db, "tresor@ma.bf", Role.FINANCE, two.scope_a)
    db.commit()
    sign_in(client, "tresor@ma.bf")
    html = _page(client)
    stuck = _section(html, "stuck")
    ids = [int(part.split('"')[0]) for part in stuck.split('data-id="')[1:]]
    order = [i for i in ids if i in {escalated.id, past.id, lost.id, gave_up.id}]
    assert order == [past.id, escalated.id, lost.id, gave_up.id]
    for row in (fine, fresh, of_b):
        assert f'data-id="{row.id}"' not in stuck
    assert "escalated: the provider never answered" in stuck
    assert "still open after its expiry" in stuck and "never sent to the provider" in stuck
    assert "a callback could not be confirmed" in stuck
    listed = _section(html, "intents")
    assert f'data-id="{fine.id}"' in listed and f'data-id="{of_b.id}"' not in listed
    assert f'data-id="{old.id}"' not in listed  # older than the 30 days shown by default
    assert "+22670****77" in listed and "+22670998877" not in html
    errors = _section(_page(client, "/console/payments?errors=1"), "intents")
    assert f'data-id="{escalated.id}"' in errors and f'data-id="{fine.id}"' not in errors
    states = _section(
        _page(client, "/console/payments?status=SUCCEEDED&from=2026-01-01"), "intents"
    )
    assert f'data-id="{old.id}"' in states and f'data-id="{past.id}"' not in states
    north_only = _page(client, f"/console/payments?section={two.section_a.id}")
    assert f'data-id="{past.id}"' in _section(north_only, "stuck")
    assert f'data-id="{escalated.id}"' not in north_only
    assert client.get(f"/console/payments/{of_b.id}").status_code == 404


def test_the_intent_page_shows_its_events_and_postings(
    db: Session, two: TwoMutuals, homes: tuple[Household, ...], client: FlaskClient
) -> None:
    _, plain, _ = homes
    paid, _ = receive_payment(
        db,
        household=plain,
        amount=6000,
        paid_on=NOW.date(),
        channel="mobile",
        reference="TXN-1",
        now=NOW,
    )
    done = intent(db, plain, IS.SUCCEEDED)
    done.payment_id = paid.id
    db.add(
        PaymentEvent(
            provider="sandbox",
            event_key="cb-2",
            source="callback",
            intent_id=done.id,
            state="SUCCESSFUL",
            amount=6000,
            verified=True,
            outcome="applied",
            received_at=NOW - dt.timedelta(minutes=50),
        )
    )
    bare = intent(db, plain, IS.PENDING, at=NOW - dt.timedelta(hours=2))
    make_user(db, "lecteur@ma.bf", Role.VIEWER, two.scope_a)
    db.commit()
    sign_in(client, "lecteur@ma.bf")
    html = _page(client, f"/console/payments/{done.id}")
    assert done.reference in html and "+22670****77" in html
    events = _section(html, "events")
    assert "callback" in events and "applied" in events and "6000" in events
    postings = _section(html, "postings")
    assert postings.count('class="posting"') == 2 and f"liab:household:{plain.id}" in postings
    other = _page(client, f"/console/payments/{bare.id}")
    assert "No provider event." in other and "No ledger posting." in other
    assert "still open after its expiry" in other


def test_finance_releases_a_held_payment(
    db: Session, two: TwoMutuals, homes: tuple[Household, ...], client: FlaskClient
) -> None:
    north, _, theirs = homes
    held = held_payment(db, north, "BIG-A")
    of_b = held_payment(db, theirs, "BIG-B")
    finance = make_user(db, "tresor@ma.bf", Role.FINANCE, two.scope_a)
    db.commit()
    held_id, b_id, finance_id = held.id, of_b.id, finance.id
    where = (two.a.id, two.section_a.id)
    sign_in(client, "tresor@ma.bf")
    page = _section(_page(client), "held")
    assert f'data-id="{held_id}"' in page and f'data-id="{b_id}"' not in page
    assert "BIG-A" in page and "Release" in page
    before = action_count(db)
    url = f"/console/payments/held/{held_id}/release"
    blank = post(client, url, {"reason": " "}, follow=True)
    assert "a reason is required" in blank.get_data(as_text=True)
    assert action_count(db) == before
    done = post(client, url, {"reason": "harvest money for 3 years"}, follow=True)
    assert "Payment BIG-A released" in done.get_data(as_text=True)
    [row] = actions(db)[before:]
    assert (row.action, row.object_id, row.user_id, row.reason) == (
        "payment.release",
        str(held_id),
        finance_id,
        "harvest money for 3 years",
    )
    assert (row.mutual_id, row.section_id) == where
    assert row.before and "XOF" in row.before["hold_reason"]
    released = db.get(Payment, held_id)
    assert released is not None and released.released_by == "tresor@ma.bf"
    db.rollback()
    again = post(client, url, {"reason": "twice"}, follow=True)
    assert "not held any more" in again.get_data(as_text=True)
    assert (
        post(client, f"/console/payments/held/{b_id}/release", {"reason": "x"}).status_code == 404
    )
    assert action_count(db) == before + 1


def test_only_finance_releases(
    db: Session, two: TwoMutuals, homes: tuple[Household, ...], client: FlaskClient
) -> None:
    held = held_payment(db, homes[1])
    for login, role in [
        ("gerant@ma.bf", Role.MANAGER),
        ("lecteur@ma.bf", Role.VIEWER),
        ("admin@ma.bf", Role.ADMIN),
    ]:
        make_user(db, login, role, two.scope_a)
    make_user(db, "tresor@ma.bf", Role.FINANCE, two.scope_a)
    db.commit()
    url = f"/console/payments/held/{held.id}/release"
    held_id = held.id
    before = action_count(db)
    for login in ("gerant@ma.bf", "lecteur@ma.bf", "admin@ma.bf"):
        other = client.application.test_client()
        sign_in(other, login)
        assert "Release" not in _page(other)
        assert post(other, url, {"reason": "x"}).status_code == 403
    sign_in(client, "tresor@ma.bf")
    csrf_token(client, "/console/")
    assert client.post(url, data={"reason": "no token"}).status_code == 400
    assert action_count(db) == before
    assert db.scalar(select(Payment.released_at).where(Payment.id == held_id)) is None


def test_why_stuck_says_nothing_of_a_healthy_intent() -> None:
    healthy = PaymentIntent(
        state=IS.PENDING, created_at=NOW, expires_at=NOW + dt.timedelta(minutes=5), flag=None
    )
    assert why_stuck(healthy, NOW) is None


def test_a_sections_operator_sees_its_households_intents_only(
    db: Session, two: TwoMutuals, homes: tuple[Household, ...], client: FlaskClient
) -> None:
    north, plain, _ = homes
    ours = intent(db, north, IS.SUCCEEDED)
    elsewhere = intent(db, plain, IS.SUCCEEDED)
    held_payment(db, plain, "BIG-PLAIN")
    make_user(db, "nord@ma.bf", Role.MANAGER, two.section_scope_a)
    db.commit()
    sign_in(client, "nord@ma.bf")
    html = _page(client)
    assert f'data-id="{ours.id}"' in html and f'data-id="{elsewhere.id}"' not in html
    assert "BIG-PLAIN" not in html
    assert client.get(f"/console/payments/{ours.id}").status_code == 200
    assert client.get(f"/console/payments/{elsewhere.id}").status_code == 404


def test_the_next_page_lists_intents_only(
    db: Session, two: TwoMutuals, homes: tuple[Household, ...], client: FlaskClient
) -> None:
    _, plain, _ = homes
    made = [intent(db, plain, IS.SUCCEEDED, at=NOW - dt.timedelta(minutes=n)) for n in range(51)]
    intent(db, plain, IS.PENDING, at=NOW - dt.timedelta(hours=3))  # stuck
    held_payment(db, plain)
    make_user(db, "tresor@ma.bf", Role.FINANCE, two.scope_a)
    db.commit()
    sign_in(client, "tresor@ma.bf")
    first = _page(client, "/console/payments?status=SUCCEEDED")
    assert '<table id="stuck">' in first and '<table id="held">' in first
    assert _section(first, "intents").count('class="intent"') == 50
    link = first.split('id="next" href="')[1].split('"')[0].replace("&amp;", "&")
    assert "status=SUCCEEDED" in link
    second = _page(client, link)
    assert '<table id="stuck">' not in second and '<table id="held">' not in second
    assert _section(second, "intents").count('class="intent"') == 1
    assert f'data-id="{made[-1].id}"' in second
    assert client.get("/console/payments?after=garbage").status_code == 400
