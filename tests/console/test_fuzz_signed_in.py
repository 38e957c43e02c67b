"""Hostile input on the console's forms and pages, signed in (issue 15 acceptance 1, issue 16:
bad input anywhere gets a clear 4xx, never a 5xx). Operators of every role post hostile values
for every field of the console's forms, with a valid CSRF token most of the time, to every
console route, with ids of rows that exist."""

from __future__ import annotations

import os

import pytest
from sqlalchemy.orm import Session

from gateway.models import Role, ScopeKind
from gateway.services.operators import ScopeRef
from tests.conftest import AppFactory
from tests.console.conftest import TwoMutuals
from tests.support.console import csrf_token, make_user, sign_in
from tests.support.factories import make_household
from tests.support.fuzz import Generator, send

REQUESTS = int(os.environ.get("FUZZ_CONSOLE_REQUESTS", "1500"))  # per role
ALL = ScopeRef(ScopeKind.ALL)


@pytest.mark.parametrize(
    ("role", "scope"),
    [(Role.ADMIN, "all"), (Role.MANAGER, "mutual"), (Role.FINANCE, "all"), (Role.VIEWER, "all")],
)
def test_hostile_console_requests_signed_in_get_no_5xx(
    make_app: AppFactory, db: Session, two: TwoMutuals, role: Role, scope: str
) -> None:
    for mutual in (two.a, two.b):
        make_household(db, mutual, members=2, phone="+22670100200")
    user = make_user(db, f"{role.value}@fuzz.bf", role, two.scope_a if scope == "mutual" else ALL)
    db.commit()
    app = make_app()
    client = app.test_client()
    assert sign_in(client, user.login).status_code == 302
    generator = Generator(
        app, 16 + len(role.value), only="console", skip=("/console/logout",),
        csrf=csrf_token(client, "/console/"),
    )  # fmt: skip
    outcome = send(app, 0, REQUESTS, client=client, generator=generator)
    assert outcome.requests == REQUESTS
    assert not outcome.failures, "\n".join(outcome.failures)
    assert outcome.statuses[200] > REQUESTS // 10, outcome.statuses  # signed in: pages served
    print(f"\n{role.value}: {dict(outcome.statuses)}")


@pytest.mark.parametrize(
    ("method", "url", "form"),
    [
        ("GET", "/console/households/%00", None),
        ("GET", "/console/members?q=ab%00c", None),
        ("POST", "/console/alerts/1/resolve", {"reason": "a\x00b"}),
    ],
)
def test_a_nul_byte_anywhere_is_a_400_that_says_so(
    make_app: AppFactory, db: Session, two: TwoMutuals, method: str, url: str,
    form: dict[str, str] | None,
) -> None:  # fmt: skip
    """Found by the fuzz above on PostgreSQL, which refuses NUL even in a WHERE clause."""
    user = make_user(db, "nul@fuzz.bf", Role.ADMIN, ALL)
    db.commit()
    client = make_app().test_client()
    assert sign_in(client, user.login).status_code == 302
    data = {**form, "csrf_token": csrf_token(client, "/console/")} if form else None
    answer = client.open(url, method=method, data=data)
    assert answer.status_code == 400
    assert "NUL byte" in answer.get_data(as_text=True)
