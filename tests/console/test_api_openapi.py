"""The OpenAPI 3.1 document of /api/v1 (issue 17) is honest: every /api/v1 route is documented,
every documented path is a route, and real answers validate against its schemas (jsonschema,
Draft 2020-12: the dialect of OpenAPI 3.1)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from sqlalchemy.orm import Session

from gateway.console.api.openapi import document
from gateway.models import OutboxMessage, Payment, Role
from tests.console.conftest import TwoMutuals
from tests.support.console import NOW, bearer, body, token
from tests.support.factories import make_household

PREFIX = "/api/v1"


def routes(app: Flask) -> set[str]:
    """The app's /api/v1 rules in OpenAPI's spelling (`<number>` -> `{number}`)."""
    return {
        re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule.removeprefix(PREFIX))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(PREFIX + "/")
    }


def test_every_route_is_documented_and_every_path_exists(console_app: Flask) -> None:
    documented = set(document()["paths"])
    assert routes(console_app) == documented
    assert "/households/{number}" in documented and "/payments" in documented


def test_the_document_is_served_without_a_token(client: FlaskClient) -> None:
    reply = client.get("/api/v1/openapi.json")
    assert reply.status_code == 200 and body(reply)["openapi"] == "3.1.0"


def validator(name: str) -> Draft202012Validator:
    """The component `name`, its $refs resolved inside the document."""
    spec = document()
    schema: dict[str, Any] = {
        **spec["components"]["schemas"][name],
        "components": spec["components"],
    }
    return Draft202012Validator(schema)


def test_sample_answers_validate(db: Session, two: TwoMutuals, client: FlaskClient) -> None:
    home = make_household(db, two.a, members=2, number="H1")
    db.add(
        Payment(
            mutual_id=two.a.id,
            household_id=home.id,
            amount=1500,
            paid_on=dt.date(2026, 3, 1),
            channel="cash",
            reference="R1",
            ledger_key="payment:R1",
            created_at=NOW,
        )
    )
    db.add(
        OutboxMessage(
            mutual_id=two.a.id,
            phone="+22670123412",
            template="receipt",
            language="fr",
            text="Merci",
            reason="receipt",
            created_at=NOW,
        )
    )
    secret = token(db, "erp", Role.ADMIN, two.scope_a)
    db.commit()
    samples = {
        "Household": "/api/v1/households/H1",
        "PaymentList": "/api/v1/payments",
        "SmsList": "/api/v1/sms",
        "Indicators": "/api/v1/indicators?period=2026",
    }
    for name, url in samples.items():
        reply = client.get(url, headers=bearer(secret))
        assert reply.status_code == 200, body(reply)
        validator(name).validate(body(reply))
    error = client.get("/api/v1/households/NOPE", headers=bearer(secret))
    validator("Error").validate(body(error))


def test_a_schema_refuses_a_wrong_answer() -> None:
    """The check can fail: an amount as a string is refused."""
    wrong = {"items": [{"amount": "1500"}], "next": None}
    assert list(validator("PaymentList").iter_errors(wrong))
