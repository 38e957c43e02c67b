"""`/console/users` (admin): every write leaves exactly one `operator_actions` row (D27); other
roles cannot open it; a viewer cannot write anywhere."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.models import OperatorAction, Role, User
from gateway.services.operators import LOCK_FOR
from tests.console.conftest import TwoMutuals
from tests.support.console import NOW, PASSWORD, make_user, post, sign_in


def _actions(db: Session) -> list[OperatorAction]:
    rows = list(db.scalars(select(OperatorAction).order_by(OperatorAction.id)))
    db.expunge_all()  # the rows (and the test's objects) stay readable, detached...
    db.rollback()  # ...and the read's transaction ends (on SQLite it holds the write lock)
    return rows


@pytest.fixture
def admin(db: Session, two: TwoMutuals, client: FlaskClient) -> User:
    user = make_user(db, "admin@ma.bf", Role.ADMIN, two.scope_a)
    db.commit()
    sign_in(client, "admin@ma.bf")
    return user


def test_add_a_user(db: Session, two: TwoMutuals, admin: User, client: FlaskClient) -> None:
    before = len(_actions(db))
    form = {
        "login": "+226 70 11 22 33",
        "name": "Awa",
        "role": "manager",
        "scope": "section:MA/Nord",
        "language": "fr",
        "password": "a long password",
    }
    reply = post(client, "/console/users/new", form)
    assert reply.status_code == 302
    added = _actions(db)[before:]
    assert [(a.action, a.user_id, a.mutual_id, a.section_id) for a in added] == [
        ("user.add", admin.id, two.a.id, two.section_a.id)
    ]
    assert added[0].after and added[0].after["login"] == "+22670112233"
    assert added[0].ip == "127.0.0.1"
    listed = client.get("/console/users").get_data(as_text=True)
    assert "+22670112233" in listed and "section:MA/Nord" in listed and "mutual:MA" in listed
    audit = client.get("/console/audit").get_data(as_text=True)
    assert "<td>admin@ma.bf</td>" in audit and "user.add" in audit


def test_a_refused_add_records_nothing(db: Session, admin: User, client: FlaskClient) -> None:
    before = len(_actions(db))
    form = {
        "login": "x@ma.bf",
        "role": "viewer",
        "scope": "mutual:NOPE",
        "language": "fr",
        "password": "a long password",
    }
    refused = post(client, "/console/users/new", form, follow=True)
    assert "no mutual NOPE" in refused.get_data(as_text=True)
    short = {**form, "scope": "mutual:MA", "password": "short"}
    refused = post(client, "/console/users/new", short, follow=True)
    assert "password" in refused.get_data(as_text=True)
    assert len(_actions(db)) == before


def test_deactivate_activate_unlock_reset_one_row_each(
    db: Session, two: TwoMutuals, admin: User, client: FlaskClient
) -> None:
    target = make_user(db, "gerant@ma.bf", Role.MANAGER, two.scope_a)
    target.failed_attempts, target.locked_until = 5, NOW + LOCK_FOR
    db.commit()
    target_id = target.id
    steps = [
        (f"/console/users/{target_id}/unlock", {}, "user.unlock"),
        (
            f"/console/users/{target_id}/deactivate",
            {"reason": "left the mutual"},
            "user.deactivate",
        ),
        (f"/console/users/{target_id}/activate", {"reason": "back"}, "user.activate"),
        (
            f"/console/users/{target_id}/password",
            {"password": "new long password"},
            "user.reset_password",
        ),
    ]
    for url, form, action in steps:
        before = len(_actions(db))
        assert post(client, url, form).status_code == 302
        added = _actions(db)[before:]
        assert [(a.action, a.object_id, a.user_id) for a in added] == [
            (action, str(target_id), admin.id)
        ]
    rows = {a.action: a for a in _actions(db)}
    assert rows["user.deactivate"].reason == "left the mutual"
    assert rows["user.unlock"].before == {
        "failed_attempts": 5,
        "locked_until": (NOW + LOCK_FOR).isoformat(),
    }
    other = client.application.test_client()
    assert sign_in(other, "gerant@ma.bf").status_code == 401  # the old password is gone
    assert sign_in(other, "gerant@ma.bf", "new long password").status_code == 302


def test_a_password_reset_ends_the_users_sessions(
    db: Session, two: TwoMutuals, admin: User, client: FlaskClient
) -> None:
    target = make_user(db, "gerant@ma.bf", Role.MANAGER, two.scope_a)
    db.commit()
    theirs = client.application.test_client()
    sign_in(theirs, "gerant@ma.bf")
    assert theirs.get("/console/").status_code == 200
    post(client, f"/console/users/{target.id}/password", {"password": "new long password"})
    assert theirs.get("/console/").status_code == 302


def test_an_admin_cannot_deactivate_themselves(
    db: Session, admin: User, client: FlaskClient
) -> None:
    assert post(client, f"/console/users/{admin.id}/deactivate").status_code == 400


@pytest.mark.parametrize("role", [Role.MANAGER, Role.FINANCE, Role.VIEWER])
def test_only_admins_open_the_users_page(
    db: Session, two: TwoMutuals, client: FlaskClient, role: Role
) -> None:
    target = make_user(db, "x@ma.bf", Role.VIEWER, two.scope_a)
    make_user(db, "someone@ma.bf", role, two.scope_a)
    db.commit()
    sign_in(client, "someone@ma.bf")
    assert client.get("/console/users").status_code == 403
    before = len(_actions(db))
    assert post(client, f"/console/users/{target.id}/deactivate").status_code == 403
    assert len(_actions(db)) == before


def test_a_viewer_writes_only_their_own_language(
    db: Session, two: TwoMutuals, client: FlaskClient
) -> None:
    make_user(db, "lecteur@ma.bf", Role.VIEWER, two.scope_a, language="fr")
    db.commit()
    sign_in(client, "lecteur@ma.bf")
    assert "Aujourd" in client.get("/console/").get_data(as_text=True)
    post(client, "/console/language", {"language": "en"})
    assert "Today" in client.get("/console/").get_data(as_text=True)
    db.expire_all()
    assert db.scalar(select(func.count(OperatorAction.id))) == 1  # a preference: not logged
    assert PASSWORD
