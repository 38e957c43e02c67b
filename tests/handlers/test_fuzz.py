"""Hostile requests on every route of the app (issue 15, acceptance 1; interfaces.md HTTP:
bad input is a 4xx with its reason, never a 5xx). FUZZ_REQUESTS requests in all (20,000 by
default, `make fuzz` sends 1,000,000), spread over CHUNKS tests so that xdist runs them side
by side; FUZZ_SEED moves the stream; FUZZ_PROGRESS=<file> logs running figures. Runs on
PostgreSQL when DATABASE_URL is set. Each chunk records its count and duration; the terminal
summary adds them up."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session

from gateway.models import Mutual
from tests.support.fuzz import CINETPAY_SECRET, Generator, Outcome, send

CHUNKS = 8
TOTAL = int(os.environ.get("FUZZ_REQUESTS", "20000"))
SEED = int(os.environ.get("FUZZ_SEED", "15"))
TOKEN = "fuzz-token"


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_no_hostile_request_gets_a_5xx(
    make_app: Any, mutual: Mutual, db: Session, chunk: int, record_property: Any
) -> None:
    db.commit()  # the mutual (its service code) is there for the hops to go deeper
    app = make_app(GATEWAY_USSD_TOKEN=TOKEN, CINETPAY_SECRET_KEY=CINETPAY_SECRET)
    count = TOTAL // CHUNKS + (1 if chunk < TOTAL % CHUNKS else 0)
    outcome = send(app, SEED * 1000 + chunk, count, TOKEN, _progress(chunk))
    record_property("fuzz_requests", outcome.requests)
    record_property("fuzz_seconds", round(outcome.seconds, 3))
    record_property("fuzz_statuses", dict(outcome.statuses))
    assert outcome.requests == count
    assert not outcome.failures, "\n".join(outcome.failures)


def _progress(chunk: int) -> Callable[[Outcome, float], None] | None:
    """With FUZZ_PROGRESS=<file>, each chunk appends its running figures there."""
    path = os.environ.get("FUZZ_PROGRESS")
    if not path:
        return None

    def write(outcome: Outcome, seconds: float) -> None:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "a", encoding="utf-8") as out:
            fives = sum(n for status, n in outcome.statuses.items() if status >= 500)
            out.write(f"chunk {chunk}: {outcome.requests} requests {seconds:.1f} s 5xx={fives}\n")

    return write


def test_every_route_is_fuzzed(make_app: Any) -> None:
    """The generator draws from the app's own url_map: a new route is fuzzed without a word."""
    app = make_app()
    generator = Generator(app, 1)
    seen = {generator.request().path.split("?")[0] for _ in range(10_000)}
    for rule in app.url_map.iter_rules():
        prefix = rule.rule.split("<")[0]
        assert any(path.startswith(prefix) for path in seen), rule.rule
