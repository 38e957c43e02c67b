"""API tokens from the console's users page (console.md "JSON API", issue 17): an admin creates
a token inside their scope (the secret shown once, in that answer only), sees the tokens of
their scope and revokes one; each write is one `operator_actions` row; other roles and other
scopes are refused."""

from __future__ import annotations

import re

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import ApiToken, Role
from tests.console.conftest import TwoMutuals
from tests.support.console import actions, bearer, post, signed, token

SECRET = re.compile(r'<code id="token-secret">([^<]+)</code>')


def test_an_admin_creates_lists_and_revokes_a_token(
    db: Session, two: TwoMutuals, console_app: Flask
) -> None:
    admin = signed(console_app, db, "admin@ma.bf", Role.ADMIN, two.scope_a)
    token(db, "erp-b", Role.MANAGER, two.scope_b)
    db.commit()
    before = len(actions(db))
    form = {"name": "erp-a", "role": "finance", "scope": "mutual:MA"}
    created = post(admin, "/console/users/tokens", form)
    assert created.status_code == 200
    found = SECRET.search(created.get_data(as_text=True))
    assert found, "the secret is shown once"
    secret = found.group(1)
    assert all(secret not in value for _, value in created.headers)  # not in the cookie
    api = console_app.test_client()
    assert api.get("/api/v1/payments", headers=bearer(secret)).status_code == 200
    page = admin.get("/console/users").get_data(as_text=True)
    assert "erp-a" in page and "erp-b" not in page and secret not in page
    row = db.scalars(select(ApiToken).where(ApiToken.name == "erp-a")).one()
    other = db.scalars(select(ApiToken).where(ApiToken.name == "erp-b")).one()
    row_id, other_id = row.id, other.id
    assert row.role == Role.FINANCE and row.scope_mutual_id == two.a.id
    db.rollback()
    assert post(admin, f"/console/users/tokens/{other_id}/revoke").status_code == 404
    revoked = post(admin, f"/console/users/tokens/{row_id}/revoke", follow=True)
    assert "erp-a revoked" in revoked.get_data(as_text=True)
    assert api.get("/api/v1/payments", headers=bearer(secret)).status_code == 401
    again = post(admin, f"/console/users/tokens/{row_id}/revoke", follow=True)
    assert "revoked already" in again.get_data(as_text=True)
    added = actions(db)[before:]
    assert [(a.action, a.object_id, a.user_id is not None) for a in added] == [
        ("token.add", str(row_id), True),
        ("token.revoke", str(row_id), True),
    ]


def test_a_token_outside_the_admin_s_scope_or_by_another_role_is_refused(
    db: Session, two: TwoMutuals, console_app: Flask
) -> None:
    admin = signed(console_app, db, "admin@ma.bf", Role.ADMIN, two.scope_a)
    manager = signed(console_app, db, "gerant@ma.bf", Role.MANAGER, two.scope_a)
    before = len(actions(db))
    wide = {"name": "all", "role": "admin", "scope": "all"}
    shown = post(admin, "/console/users/tokens", wide, follow=True).get_data(as_text=True)
    assert "outside yours" in shown
    other = {"name": "b", "role": "viewer", "scope": "mutual:MB"}
    assert "outside yours" in post(admin, "/console/users/tokens", other, follow=True).text
    empty = post(admin, "/console/users/tokens", {"name": "", "scope": "all"}, follow=True)
    assert "name" in empty.get_data(as_text=True)
    ok = {"name": "x", "role": "viewer", "scope": "mutual:MA"}
    assert post(manager, "/console/users/tokens", ok).status_code == 403
    assert len(actions(db)) == before
    assert db.scalars(select(ApiToken)).first() is None
    db.rollback()
