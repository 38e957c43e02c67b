"""Helpers of the console tests (issue 16): operators made through the service, sign-in through
the real forms with their CSRF tokens."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from gateway.models import OperatorAction, Role, User
from gateway.services.operators import Actor, ScopeRef, add_token, add_user, code_at

PASSWORD = "correct horse battery"
NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
CLI = Actor(None)
_TOKEN = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def make_user(
    db: Session,
    login: str,
    role: Role,
    scope: ScopeRef,
    *,
    totp: bool = False,
    language: str = "en",
) -> User:
    """An operator (admin/finance get a TOTP secret only when `totp`)."""
    made = add_user(
        db,
        CLI,
        login=login,
        password=PASSWORD,
        role=role,
        scope=scope,
        now=NOW,
        language=language,
        with_totp=totp,
    )
    return made.user


def csrf_token(client: FlaskClient, page: str = "/console/login") -> str:
    """The CSRF token of the client's session, read from a page's form."""
    html = client.get(page).get_data(as_text=True)
    found = _TOKEN.search(html)
    assert found, f"no CSRF token on {page}"
    return found.group(1)


def sign_in(
    client: FlaskClient,
    login: str,
    password: str = PASSWORD,
    *,
    secret: str | None = None,
    at: dt.datetime = NOW,
) -> TestResponse:
    """Password, then the TOTP code of `at` when `secret` is given; the last response."""
    token = csrf_token(client)
    reply = client.post(
        "/console/login", data={"login": login, "password": password, "csrf_token": token}
    )
    if secret is None or reply.status_code != 302:
        return reply
    token = csrf_token(client, "/console/login/code")
    return client.post(
        "/console/login/code", data={"code": code_at(secret, at), "csrf_token": token}
    )


def post(
    client: FlaskClient, url: str, data: Mapping[str, str] | None = None, *, follow: bool = False
) -> TestResponse:
    """A signed-in operator's form post, with the session's CSRF token (read from the home
    page, which shows and so consumes pending flash messages: `follow` to see the post's)."""
    token = csrf_token(client, "/console/")
    return client.post(url, data={**(data or {}), "csrf_token": token}, follow_redirects=follow)


# --- the JSON API (issue 17) ---


def token(db: Session, name: str, role: Role, scope: ScopeRef) -> str:
    """A new API token's secret (not committed)."""
    return add_token(db, CLI, name=name, role=role, scope=scope, now=NOW).secret


def body(reply: TestResponse) -> Any:
    """The JSON of an answer (it must be JSON)."""
    assert reply.is_json, reply.get_data(as_text=True)
    return reply.json


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def actions(db: Session) -> list[OperatorAction]:
    """The operator actions recorded so far, oldest first (the session's read ended)."""
    rows = list(db.scalars(select(OperatorAction).order_by(OperatorAction.id)))
    db.expunge_all()
    db.rollback()
    return rows


def signed(app: Flask, db: Session, login: str, role: Role, scope: ScopeRef) -> FlaskClient:
    """A test client of `app`, signed in as a new operator."""
    make_user(db, login, role, scope)
    db.commit()
    client = app.test_client()
    sign_in(client, login)
    return client
