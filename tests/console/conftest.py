"""Console fixtures: a cheap password hasher (argon2's defaults cost ~0.2 s a hash on the CI
machine; the parameters are not what these tests are about), two mutuals A and B with a
section each, and an app on a fixed clock."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from gateway.clock import FixedClock
from gateway.models import Mutual, ScopeKind, Section
from gateway.services.operators import ScopeRef, passwords
from tests.conftest import AppFactory
from tests.support.browser import CHROMIUM
from tests.support.console import NOW
from tests.support.factories import make_mutual
from tests.support.payments import serve


@pytest.fixture(autouse=True)
def cheap_hasher(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        passwords, "HASHER", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    )


@dataclass
class TwoMutuals:
    a: Mutual
    b: Mutual
    section_a: Section
    section_b: Section

    @property
    def scope_a(self) -> ScopeRef:
        return ScopeRef(ScopeKind.MUTUAL, mutual_id=self.a.id)

    @property
    def scope_b(self) -> ScopeRef:
        return ScopeRef(ScopeKind.MUTUAL, mutual_id=self.b.id)

    @property
    def section_scope_a(self) -> ScopeRef:
        return ScopeRef(ScopeKind.SECTION, mutual_id=self.a.id, section_id=self.section_a.id)


@pytest.fixture
def two(db: Session) -> TwoMutuals:
    """Also: the test's session keeps its objects loaded at commit, so reading an id after a
    commit opens no transaction (on SQLite, a read would hold the lock the app needs)."""
    db.expire_on_commit = False
    a, b = make_mutual(db, "MA"), make_mutual(db, "MB")
    section_a, section_b = Section(mutual=a, name="Nord"), Section(mutual=b, name="Sud")
    db.add_all([section_a, section_b])
    db.flush()
    return TwoMutuals(a, b, section_a, section_b)


@pytest.fixture
def console_clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def console_app(make_app: AppFactory, console_clock: FixedClock) -> Flask:
    app = make_app()
    app.extensions["gateway"].clock = console_clock
    return app


@pytest.fixture
def client(console_app: Flask) -> FlaskClient:
    """Not entered with `with`: a preserved request context would share `g` (and Flask-WTF's
    cached token) with a second client of the same test."""
    return console_app.test_client()


@pytest.fixture
def served(console_app: Flask) -> Iterator[str]:
    """The console app served over HTTP, for a real browser."""
    server = serve(console_app)
    yield server.url
    server.stop()


@pytest.fixture
def page() -> Iterator[Any]:
    """A page of Debian's Chromium (tests/support/browser.py), in French by default."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        context = browser.new_context(viewport={"width": 1300, "height": 800}, locale="fr-FR")
        yield context.new_page()
        context.close()
        browser.close()
