"""The JSON API under /api/v1 (issue 17): bearer tokens (401 unknown or revoked, 403 wrong role,
404 outside the scope, 429 over the rate limit), no CSRF, scope isolation, keyset paging, the
household document, and the log line of each request."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from flask.testing import FlaskClient
from redis import RedisError
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.console import ratelimit
from gateway.models import ApiToken, Household, OutboxMessage, Payment, Role, ScopeKind
from gateway.services.operators import ScopeRef, revoke_token
from tests.console.conftest import TwoMutuals
from tests.support.console import CLI, NOW, bearer, body, token
from tests.support.factories import make_household

pytestmark = pytest.mark.usefixtures("two")


def pay(db: Session, household: Household, amount: int, n: int, **extra: object) -> Payment:
    row = Payment(
        mutual_id=household.mutual_id,
        household_id=household.id,
        amount=amount,
        paid_on=dt.date(2026, 3, 1) + dt.timedelta(days=n % 20),
        channel="mobile",
        reference=f"R{household.id}-{n}",
        ledger_key=f"payment:{household.id}:{n}",
        created_at=NOW + dt.timedelta(minutes=n),
        **extra,
    )
    db.add(row)
    return row


def test_no_unknown_or_revoked_token_is_401(
    db: Session, two: TwoMutuals, client: FlaskClient
) -> None:
    secret = token(db, "erp", Role.MANAGER, two.scope_a)
    db.commit()
    assert client.get("/api/v1/sms").status_code == 401
    unknown = client.get("/api/v1/sms", headers=bearer("not-a-token"))
    assert unknown.status_code == 401 and body(unknown)["error"] == "Unauthorized"
    assert unknown.headers["WWW-Authenticate"].lower().startswith("bearer")
    assert client.get("/api/v1/sms", headers=bearer(secret)).status_code == 200
    revoke_token(db, CLI, "erp", now=NOW)
    db.commit()
    assert client.get("/api/v1/sms", headers=bearer(secret)).status_code == 401


def test_last_use_is_recorded(db: Session, two: TwoMutuals, client: FlaskClient) -> None:
    secret = token(db, "erp", Role.MANAGER, two.scope_a)
    db.commit()
    client.get("/api/v1/sms", headers=bearer(secret))
    db.expire_all()
    assert db.scalars(select(ApiToken.last_used_at)).one() == NOW
    db.rollback()


def test_a_viewer_token_cannot_read_a_household(
    db: Session, two: TwoMutuals, client: FlaskClient
) -> None:
    make_household(db, two.a, number="H1")
    secret = token(db, "board", Role.VIEWER, two.scope_a)
    db.commit()
    refused = client.get("/api/v1/households/H1", headers=bearer(secret))
    assert refused.status_code == 403 and refused.is_json
    assert client.get("/api/v1/sms", headers=bearer(secret)).status_code == 200


def test_a_household_outside_the_scope_is_404(
    db: Session, two: TwoMutuals, client: FlaskClient
) -> None:
    make_household(db, two.a, members=2, number="H1")
    make_household(db, two.b, number="H2")
    secret = token(db, "erp-a", Role.MANAGER, two.scope_a)
    db.commit()
    found = client.get("/api/v1/households/H1", headers=bearer(secret))
    assert found.status_code == 200, body(found)
    document = body(found)
    assert (document["number"], document["kind"], document["mutual"]) == ("H1", "household", "MA")
    assert isinstance(document["credit"], int) and document["status"] in (
        "UP_TO_DATE",
        "NOT_UP_TO_DATE",
    )
    assert [b["number"] for b in document["beneficiaries"]] == ["H101", "H102"]
    assert document["beneficiaries"][0]["enrolled_on"] == "2025-12-01"
    outside = client.get("/api/v1/households/H2", headers=bearer(secret))
    assert outside.status_code == 404 and outside.is_json
    assert client.get("/api/v1/households/NOPE", headers=bearer(secret)).status_code == 404


def test_a_number_in_two_mutuals_needs_the_mutual(
    db: Session, two: TwoMutuals, client: FlaskClient
) -> None:
    make_household(db, two.a, number="H1")
    make_household(db, two.b, number="H1")
    secret = token(db, "all", Role.ADMIN, ScopeRef(ScopeKind.ALL))
    db.commit()
    assert client.get("/api/v1/households/H1", headers=bearer(secret)).status_code == 409
    chosen = client.get("/api/v1/households/H1?mutual=MB", headers=bearer(secret))
    assert chosen.status_code == 200 and body(chosen)["mutual"] == "MB"


def test_a_token_of_a_never_sees_b_payments_and_pages_them(
    db: Session, two: TwoMutuals, client: FlaskClient
) -> None:
    home_a, home_b = make_household(db, two.a), make_household(db, two.b)
    for n in range(5):
        pay(db, home_a, 1000 + n, n)
        pay(db, home_b, 9000 + n, n)
    secret = token(db, "erp-a", Role.FINANCE, two.scope_a)
    db.commit()
    seen: list[int] = []
    cursor: str | None = None
    pages = 0
    while True:
        url = "/api/v1/payments?limit=2" + (f"&cursor={cursor}" if cursor else "")
        reply = client.get(url, headers=bearer(secret))
        assert reply.status_code == 200, body(reply)
        seen += [item["amount"] for item in body(reply)["items"]]
        pages += 1
        cursor = body(reply)["next"]
        if cursor is None:
            break
    assert seen == [1004, 1003, 1002, 1001, 1000] and pages == 3  # newest first, no B
    other = client.get("/api/v1/payments?mutual=MB", headers=bearer(secret))
    assert body(other) == {"items": [], "next": None}


def test_payment_filters(db: Session, two: TwoMutuals, client: FlaskClient) -> None:
    home = make_household(db, two.a)
    pay(db, home, 1000, 0)
    pay(db, home, 2000, 1, hold_reason="far above what is owed")
    pay(db, home, 3000, 2, hold_reason="far above", released_at=NOW, released_by="x")
    secret = token(db, "erp-a", Role.FINANCE, two.scope_a)
    db.commit()

    def amounts(query: str) -> list[int]:
        reply = client.get(f"/api/v1/payments?{query}", headers=bearer(secret))
        assert reply.status_code == 200, body(reply)
        return [item["amount"] for item in body(reply)["items"]]

    assert amounts("state=held") == [2000]
    assert amounts("state=released") == [3000]
    assert amounts("state=received") == [1000]
    assert amounts("since=2026-03-02&until=2026-03-02") == [2000]
    assert amounts("mutual=MA") == [3000, 2000, 1000]
    first = body(client.get("/api/v1/payments", headers=bearer(secret)))["items"][0]
    assert first["created_at"] == "2026-03-02T10:02:00+00:00" and first["paid_on"] == "2026-03-03"
    for bad in ("state=lost", "since=yesterday", "cursor=xyz", "limit=0"):
        assert client.get(f"/api/v1/payments?{bad}", headers=bearer(secret)).status_code == 400


def test_sms_phones_are_masked_and_scoped(
    db: Session, two: TwoMutuals, client: FlaskClient
) -> None:
    for mutual, phone in ((two.a, "+22670123412"), (two.b, "+22670999999")):
        db.add(
            OutboxMessage(
                mutual_id=mutual.id,
                phone=phone,
                template="receipt",
                language="fr",
                text="Merci",
                reason="receipt",
                created_at=NOW,
            )
        )
    secret = token(db, "erp-a", Role.VIEWER, two.scope_a)
    db.commit()
    reply = client.get("/api/v1/sms", headers=bearer(secret))
    assert [item["phone"] for item in body(reply)["items"]] == ["+22670****12"]
    assert "+22670123412" not in reply.get_data(as_text=True)
    assert client.get("/api/v1/sms?status=LOST", headers=bearer(secret)).status_code == 400
    queued = body(client.get("/api/v1/sms?status=QUEUED", headers=bearer(secret)))["items"]
    assert len(queued) == 1


def test_over_the_rate_limit_is_429_with_retry_after(
    db: Session, two: TwoMutuals, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ratelimit, "LIMIT", 3)
    secret, other = (
        token(db, "busy", Role.VIEWER, two.scope_a),
        token(db, "calm", Role.VIEWER, two.scope_a),
    )
    db.commit()
    codes = [client.get("/api/v1/sms", headers=bearer(secret)).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    refused = client.get("/api/v1/sms", headers=bearer(secret))
    assert refused.is_json and refused.headers["Retry-After"] == "60"  # NOW is on the minute
    assert client.get("/api/v1/sms", headers=bearer(other)).status_code == 200  # per token


def test_each_request_is_logged_with_its_token_route_and_status(
    db: Session, two: TwoMutuals, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    secret = token(db, "erp-a", Role.MANAGER, two.scope_a)
    db.commit()
    with caplog.at_level(logging.INFO, logger="gateway.console.views"):
        client.get("/api/v1/sms", headers=bearer(secret))
        client.get("/api/v1/households/NOPE", headers=bearer(secret))
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("api request")]
    assert lines == [
        "api request token=erp-a method=GET route=/api/v1/sms status=200",
        "api request token=erp-a method=GET route=/api/v1/households/<number> status=404",
    ]
    assert secret not in caplog.text


def test_a_section_token_sees_its_section_only(
    db: Session, two: TwoMutuals, client: FlaskClient
) -> None:
    north = make_household(db, two.a, number="N1")
    north.section_id = two.section_a.id
    elsewhere = make_household(db, two.a, number="X1")
    pay(db, north, 1000, 0)
    pay(db, elsewhere, 2000, 1)
    secret = token(db, "nord", Role.MANAGER, two.section_scope_a)
    db.commit()
    items = body(client.get("/api/v1/payments", headers=bearer(secret)))["items"]
    assert [(i["household"], i["amount"]) for i in items] == [("N1", 1000)]
    assert client.get("/api/v1/households/N1", headers=bearer(secret)).status_code == 200
    assert client.get("/api/v1/households/X1", headers=bearer(secret)).status_code == 404


def test_redis_down_is_503_not_unlimited(
    db: Session, two: TwoMutuals, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(*_args: object) -> ratelimit.Verdict:
        raise RedisError("connection refused")

    monkeypatch.setattr(ratelimit, "hit", down)
    secret = token(db, "erp-a", Role.VIEWER, two.scope_a)
    db.commit()
    reply = client.get("/api/v1/sms", headers=bearer(secret))
    assert reply.status_code == 503 and body(reply)["error"] == "Service Unavailable"


@pytest.mark.parametrize("url", ["/api/v1/households/%00", "/api/v1/payments?state=a%00b"])
def test_a_nul_byte_is_a_json_400_that_says_so(
    db: Session, two: TwoMutuals, client: FlaskClient, url: str
) -> None:
    """PostgreSQL refuses NUL even in a WHERE clause: refused before any query."""
    secret = token(db, "erp-a", Role.MANAGER, two.scope_a)
    db.commit()
    answer = client.get(url, headers=bearer(secret))
    assert answer.status_code == 400 and answer.is_json
    assert "NUL byte" in body(answer)["reason"]
