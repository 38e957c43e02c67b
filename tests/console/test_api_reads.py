"""The JSON API's read resources of issue 17: `households/<number>/timeline` (the console's one
timeline, keyset-paged), `ussd/sessions` (the /console/ussd filters), `campaigns` and
`reconciliation/exceptions`: the list envelope, ISO dates, integer amounts, masked phones, and
scope isolation (D27: a mutual A token gets 404, or nothing, for mutual B's objects)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace as Row
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from gateway.console.api.timeline import KINDS, RENDER
from gateway.console.timeline import Item, Posting
from gateway.models import (
    Campaign,
    Household,
    HouseholdPhone,
    Mutual,
    OutboxMessage,
    Payment,
    Role,
    SuspenseItem,
    UssdHop,
    UssdSessionEvent,
)
from tests.console.conftest import TwoMutuals
from tests.support.console import NOW, bearer, body, token
from tests.support.factories import make_household

pytestmark = pytest.mark.usefixtures("two")
PHONE = "+22670123412"


def hop(
    db: Session, mutual: Mutual, session_id: str, at: dt.datetime, screen: str = "menu"
) -> None:
    db.add(
        UssdHop(
            provider="at",
            session_id=session_id,
            phone_masked="+22670****12",
            service_code="*123#",
            screen=screen,
            input_masked="1",
            reply="CON ...",
            latency_ms=20,
            created_at=at,
            mutual_id=mutual.id,
        )
    )


def history(db: Session, home: Household, n: int) -> None:
    """`n` SMS and `n` payments of `home`, one a minute, the newest NOW."""
    db.add(HouseholdPhone(household_id=home.id, msisdn=PHONE, is_primary=True))
    for i in range(n):
        at = NOW - dt.timedelta(minutes=2 * i)
        db.add(
            OutboxMessage(
                mutual_id=home.mutual_id,
                household_id=home.id,
                phone=PHONE,
                template="receipt",
                language="fr",
                text=f"Merci {i}",
                reason="receipt",
                created_at=at,
            )
        )
        db.add(
            Payment(
                mutual_id=home.mutual_id,
                household_id=home.id,
                amount=1000 + i,
                paid_on=at.date(),
                channel="cash",
                reference=f"R{home.id}-{i}",
                ledger_key=f"payment:{home.id}:{i}",
                created_at=at - dt.timedelta(minutes=1),
            )
        )


def test_the_timeline_pages_the_console_s_merged_history(
    db: Session, two: TwoMutuals, client: FlaskClient
) -> None:
    home = make_household(db, two.a, number="H1")
    history(db, home, 3)
    secret = token(db, "erp", Role.MANAGER, two.scope_a)
    db.commit()
    seen: list[tuple[str, int]] = []
    cursor: str | None = None
    pages = 0
    while True:
        url = "/api/v1/households/H1/timeline?limit=4" + (f"&cursor={cursor}" if cursor else "")
        reply = client.get(url, headers=bearer(secret))
        assert reply.status_code == 200, body(reply)
        page = body(reply)
        for item in page["items"]:
            seen.append((item["kind"], item["id"]))
            dt.datetime.fromisoformat(item["at"])  # ISO 8601
            if item["kind"] == "sms":
                assert item["data"]["phone"] == "+22670****12"
            if item["kind"] == "payment":
                assert isinstance(item["data"]["amount"], int)
        pages += 1
        cursor = page["next"]
        if cursor is None:
            break
    assert pages == 2 and len(seen) == 6 and len(set(seen)) == 6
    assert [kind for kind, _ in seen[:2]] == ["sms", "payment"]  # newest first
    assert PHONE not in client.get("/api/v1/households/H1/timeline", headers=bearer(secret)).text
    bad = client.get("/api/v1/households/H1/timeline?cursor=zzz", headers=bearer(secret))
    assert bad.status_code == 400 and body(bad)["reason"]


def test_a_timeline_outside_the_scope_is_404(
    db: Session, two: TwoMutuals, client: FlaskClient
) -> None:
    make_household(db, two.b, number="HB")
    secret = token(db, "erp", Role.MANAGER, two.scope_a)
    viewer = token(db, "board", Role.VIEWER, two.scope_a)
    db.commit()
    assert client.get("/api/v1/households/HB/timeline", headers=bearer(secret)).status_code == 404
    assert client.get("/api/v1/households/HB/timeline", headers=bearer(viewer)).status_code == 403


def test_ussd_sessions_with_the_console_s_filters(
    db: Session, two: TwoMutuals, client: FlaskClient
) -> None:
    for i in range(3):
        hop(db, two.a, f"a{i}", NOW - dt.timedelta(hours=1, minutes=i))
    hop(db, two.a, "a0", NOW - dt.timedelta(minutes=59), screen="apology")
    hop(db, two.a, "old", NOW - dt.timedelta(days=3))
    hop(db, two.b, "b0", NOW - dt.timedelta(hours=1))
    db.add(
        UssdSessionEvent(
            provider="at",
            session_id="a1",
            phone_masked="+22670****12",
            service_code="*123#",
            status="Failed",
            input_masked="1",
            received_at=NOW - dt.timedelta(minutes=50),
            mutual_id=two.a.id,
        )
    )
    secret = token(db, "ops", Role.VIEWER, two.scope_a)
    db.commit()

    def ids(query: str) -> list[str]:
        reply = client.get(f"/api/v1/ussd/sessions?{query}", headers=bearer(secret))
        assert reply.status_code == 200, body(reply)
        return [item["session_id"] for item in body(reply)["items"]]

    assert ids("") == ["a0", "a1", "a2"]  # the last 24 hours, newest first, no B
    assert ids("errors=true") == ["a0", "a1"]  # an apology, a failure
    assert ids("status=Failed") == ["a1"]
    assert ids("from=2026-02-27&to=2026-02-28") == ["old"]
    first = client.get("/api/v1/ussd/sessions?limit=2", headers=bearer(secret))
    assert len(body(first)["items"]) == 2 and body(first)["next"]
    rest = ids(f"limit=2&cursor={body(first)['next']}")
    assert rest == ["a2"]
    item = body(first)["items"][0]
    assert item["mutual"] == "MA" and item["phone"] == "+22670****12"
    outside = client.get("/api/v1/ussd/sessions?mutual=MB", headers=bearer(secret))
    assert outside.status_code == 404
    for wrong in ("status=nope", "errors=maybe", "from=yesterday", "to=0001-01-01"):
        assert (
            client.get(f"/api/v1/ussd/sessions?{wrong}", headers=bearer(secret)).status_code == 400
        )


def campaign(db: Session, mutual: Mutual, code: str, *, paused: bool = False) -> Campaign:
    row = Campaign(
        mutual_id=mutual.id,
        product_id=mutual.products[0].id,
        code=code,
        name=f"Campaign {code}",
        opens_on=dt.date(2026, 1, 1),
        closes_on=dt.date(2026, 3, 31),
        for_period=dt.date(2026, 1, 1),
        budget=50_000,
        paused_at=NOW if paused else None,
        paused_reason="balance" if paused else None,
    )
    db.add(row)
    return row


def test_campaigns_of_the_scope(db: Session, two: TwoMutuals, client: FlaskClient) -> None:
    for i in range(3):
        campaign(db, two.a, f"A{i}", paused=i == 1)
    campaign(db, two.b, "B0")
    secret = token(db, "ops", Role.VIEWER, two.scope_a)
    section = token(db, "nord", Role.VIEWER, two.section_scope_a)
    db.commit()
    first = body(client.get("/api/v1/campaigns?limit=2", headers=bearer(secret)))
    assert [c["code"] for c in first["items"]] == ["A2", "A1"] and first["next"]
    rest = body(client.get(f"/api/v1/campaigns?cursor={first['next']}", headers=bearer(secret)))
    assert [c["code"] for c in rest["items"]] == ["A0"] and rest["next"] is None
    assert first["items"][0]["budget"] == 50_000 and first["items"][0]["opens_on"] == "2026-01-01"
    paused = body(client.get("/api/v1/campaigns?state=paused", headers=bearer(secret)))
    assert [c["code"] for c in paused["items"]] == ["A1"]
    assert body(client.get("/api/v1/campaigns?mutual=MB", headers=bearer(secret)))["items"] == []
    assert body(client.get("/api/v1/campaigns", headers=bearer(section)))["items"] == []
    for wrong in ("state=x", "cursor=abc", "limit=0"):
        assert client.get(f"/api/v1/campaigns?{wrong}", headers=bearer(secret)).status_code == 400


def suspense(db: Session, mutual: Mutual, amount: int, txn: str) -> SuspenseItem:
    item = SuspenseItem(
        mutual_id=mutual.id,
        provider="sandbox",
        provider_txn_id=txn,
        msisdn=PHONE,
        amount=amount,
        received_on=dt.date(2026, 3, 1),
        reason="unknown_reference",
        created_at=NOW,
    )
    db.add(item)
    return item


def test_reconciliation_exceptions_of_the_scope(
    db: Session, two: TwoMutuals, client: FlaskClient
) -> None:
    suspense(db, two.a, 3000, "TX-A")
    suspense(db, two.b, 5000, "TX-B")
    secret = token(db, "fin", Role.FINANCE, two.scope_a)
    viewer = token(db, "board", Role.VIEWER, two.scope_a)
    db.commit()
    reply = client.get("/api/v1/reconciliation/exceptions", headers=bearer(secret))
    items = body(reply)["items"]
    assert [(i["provider_txn_id"], i["amount"], i["mutual"]) for i in items] == [
        ("TX-A", 3000, "MA")
    ]
    assert items[0]["phone"] == "+22670****12" and items[0]["received_on"] == "2026-03-01"
    url = "/api/v1/reconciliation/exceptions"
    assert body(client.get(f"{url}?state=ASSIGNED", headers=bearer(secret)))["items"] == []
    assert body(client.get(f"{url}?until=2026-02-28", headers=bearer(secret)))["items"] == []
    assert client.get(f"{url}?state=x", headers=bearer(secret)).status_code == 400
    assert client.get(url, headers=bearer(viewer)).status_code == 403


def test_a_path_no_route_matches_answers_json(
    db: Session, two: TwoMutuals, client: FlaskClient
) -> None:
    secret = token(db, "fin", Role.FINANCE, two.scope_a)
    db.commit()
    missing = client.get("/api/v1/households/a%2Fb/timeline", headers=bearer(secret))
    assert missing.status_code == 404 and body(missing)["error"] == "Not Found"
    wrong_method = client.get("/api/v1/reconciliation/exceptions/1/ignore")
    assert wrong_method.status_code == 405 and body(wrong_method)["error"]
    assert not client.get("/console/nope").is_json  # the console keeps its own pages


def test_every_timeline_kind_renders_its_fields_phones_masked() -> None:
    """Each source of the timeline (gateway.console.timeline) has a renderer, and none shows a
    phone unmasked or an amount as anything but an integer."""
    hop = Row(
        provider="at", session_id="s", phone_masked="+22670****12", service_code="*1#", screen="m"
    )
    rows: dict[str, tuple[Row, list[Any]]] = {
        "session": (hop, [hop]),
        "session_end": (
            Row(
                provider="at",
                session_id="s",
                phone_masked="+22670****12",
                status="Failed",
                error_message="x",
                hops_count=2,
            ),
            [],
        ),
        "sms": (Row(phone=PHONE, template="t", status="SENT", text="x", sent_at=NOW), []),
        "intent": (
            Row(provider="sandbox", amount=500, state="SUCCEEDED", flag=None, msisdn=PHONE),
            [
                Row(state="SUCCEEDED", source="callback", received_at=NOW),
                Posting("k", "payment", "cash", 500),
            ],
        ),
        "payment": (Row(amount=500, paid_on=NOW.date(), channel="cash", reference="R"), []),
        "reminder": (Row(campaign_id=1, status="sent", due_at=NOW), []),
        "cash": (Row(agent_id=1, amount=500, receipt_code="ABC"), []),
        "action": (Row(action="household.x", user_id=1, reason="r"), []),
        "household_event": (
            Row(type="enrol", effective_on=NOW.date(), reason="r", recorded_by="me"),
            [],
        ),
    }
    assert set(RENDER) == set(KINDS) == set(rows)
    for kind, (row, details) in rows.items():
        data = RENDER[kind](Item(NOW, 1, 1, kind, row, list(details)))
        assert PHONE not in str(data), kind
    row, details = rows["intent"]
    intent = RENDER["intent"](Item(NOW, 1, 1, "intent", row, list(details)))
    assert intent["postings"] == [{"transaction": "payment", "account": "cash", "amount": 500}]
    assert intent["events"][0]["state"] == "SUCCEEDED" and intent["phone"] == "+22670****12"
