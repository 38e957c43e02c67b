"""Property-based check of the whole JSON API (issue 17, acceptance 4), with schemathesis: for
every route of /api/v1/openapi.json, requests generated from the document itself (path,
query and body within their documented types and bounds), with a valid token, never get a
5xx, never a status the document does not list for that route, and never an answer that breaks
its documented schema or content type. Seeded with objects of two mutuals, so lookups find
something; bounded in examples so the whole check stays well under a minute."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.orm import Session

from gateway.console.api.openapi import document
from gateway.models import Campaign, OutboxMessage, Payment, Role, SuspenseItem
from tests.console.conftest import TwoMutuals
from tests.support.console import NOW, bearer, token
from tests.support.factories import make_household

# Requests per route and role: 12 routes x 10 with a finance token (which may read and write
# everything documented), x 4 with a viewer's (403 on most routes, the lists it may read).
EXAMPLES = {Role.FINANCE: 10, Role.VIEWER: 4}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def seed(db: Session, two: TwoMutuals) -> None:
    """Something to find in each list (mutual A) and something to never see (mutual B)."""
    for mutual, number in ((two.a, "H1"), (two.b, "H2")):
        home = make_household(db, mutual, members=2, number=number)
        db.add(
            Payment(
                mutual_id=mutual.id,
                household_id=home.id,
                amount=1500,
                paid_on=dt.date(2026, 3, 1),
                channel="cash",
                reference=f"R{number}",
                ledger_key=f"payment:{number}",
                created_at=NOW,
            )
        )
        db.add(
            OutboxMessage(
                mutual_id=mutual.id,
                household_id=home.id,
                phone="+22670123412",
                template="receipt",
                language="fr",
                text="Merci",
                reason="receipt",
                created_at=NOW,
            )
        )
        db.add(
            SuspenseItem(
                mutual_id=mutual.id,
                provider="sandbox",
                provider_txn_id=f"TX-{number}",
                amount=2000,
                received_on=dt.date(2026, 3, 1),
                reason="unknown_reference",
                created_at=NOW,
            )
        )
        db.add(
            Campaign(
                mutual_id=mutual.id,
                product_id=mutual.products[0].id,
                code=f"C{number}",
                name="Campagne",
                opens_on=dt.date(2026, 1, 1),
                closes_on=dt.date(2026, 3, 31),
                for_period=dt.date(2026, 1, 1),
            )
        )


@pytest.mark.parametrize("role", [Role.FINANCE, Role.VIEWER])
def test_no_documented_route_breaks_its_document(
    db: Session, two: TwoMutuals, console_app: Flask, role: Role
) -> None:
    seed(db, two)
    secret = token(db, f"prop-{role}", role, two.scope_a)
    db.commit()
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", console_app)
    headers = bearer(secret)
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    documented = {
        f"{method.upper()} {path}" for path, item in document()["paths"].items() for method in item
    }
    # schemathesis leaves out the document itself (checked by test_api_openapi.py).
    assert {op.label for op in operations} == documented - {"GET /openapi.json"}

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES[role],
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            response = case.call(headers=headers)
            case.validate_response(response, checks=CHECKS)

        check()
