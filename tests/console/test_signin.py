"""Signing in to the console (console.md, D27): password, lock-out after 5 failures for 15
minutes, deactivated users refused, CSRF on every form, TOTP for admin and finance (enforced in
production), the session cookie's flags."""

from __future__ import annotations

import dataclasses
import datetime as dt

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.app import create_app
from gateway.clock import FixedClock
from gateway.models import OperatorAction, Role, User
from gateway.services.operators import LOCK_AFTER, code_at
from gateway.settings import Settings
from tests.console.conftest import TwoMutuals
from tests.support.console import NOW, PASSWORD, csrf_token, make_user, sign_in


def test_a_manager_signs_in_and_sees_home(
    db: Session, two: TwoMutuals, client: FlaskClient
) -> None:
    make_user(db, "gerant@ma.bf", Role.MANAGER, two.scope_a)
    db.commit()
    reply = sign_in(client, "Gerant@MA.bf")
    assert reply.status_code == 302 and reply.location.endswith("/console/")
    home = client.get("/console/")
    assert home.status_code == 200
    assert "Mutuelle MA" in home.get_data(as_text=True)
    db.expire_all()
    user = db.scalars(select(User)).one()
    assert user.last_login_at == NOW and user.failed_attempts == 0


def test_pages_need_sign_in(client: FlaskClient) -> None:
    for page in ("/console/", "/console/users", "/console/audit"):
        reply = client.get(page)
        assert reply.status_code == 302 and "/console/login" in reply.location


def test_wrong_password_and_unknown_login_say_the_same(
    db: Session, two: TwoMutuals, client: FlaskClient
) -> None:
    make_user(db, "gerant@ma.bf", Role.MANAGER, two.scope_a)
    db.commit()
    wrong = sign_in(client, "gerant@ma.bf", "not the password")
    unknown = sign_in(client, "nobody@ma.bf", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert "Identifiant ou mot de passe incorrect" in wrong.get_data(as_text=True)  # French first
    assert "Identifiant ou mot de passe incorrect" in unknown.get_data(as_text=True)
    assert client.get("/console/").status_code == 302


def test_five_failures_lock_for_fifteen_minutes(
    db: Session, two: TwoMutuals, client: FlaskClient, console_clock: FixedClock
) -> None:
    make_user(db, "gerant@ma.bf", Role.MANAGER, two.scope_a)
    db.commit()
    for _ in range(LOCK_AFTER - 1):
        assert sign_in(client, "gerant@ma.bf", "guess guess guess").status_code == 401
    locked = sign_in(client, "gerant@ma.bf", "guess guess guess")
    assert "10:15 UTC" in locked.get_data(as_text=True)
    refused = sign_in(client, "gerant@ma.bf")  # the right password, during the lock
    assert refused.status_code == 401 and "10:15 UTC" in refused.get_data(as_text=True)
    console_clock.advance(minutes=15)
    assert sign_in(client, "gerant@ma.bf").status_code == 302


def test_a_deactivated_user_cannot_sign_in(
    db: Session, two: TwoMutuals, client: FlaskClient
) -> None:
    user = make_user(db, "gerant@ma.bf", Role.MANAGER, two.scope_a)
    user.active = False
    db.commit()
    reply = sign_in(client, "gerant@ma.bf")
    assert reply.status_code == 401 and "désactivé" in reply.get_data(as_text=True)


def test_deactivation_ends_an_open_session(
    db: Session, two: TwoMutuals, client: FlaskClient
) -> None:
    user = make_user(db, "gerant@ma.bf", Role.MANAGER, two.scope_a)
    db.commit()
    sign_in(client, "gerant@ma.bf")
    assert client.get("/console/").status_code == 200
    user.active = False
    db.commit()
    assert client.get("/console/").status_code == 302


def test_a_form_without_its_csrf_token_is_refused(
    db: Session, two: TwoMutuals, client: FlaskClient
) -> None:
    make_user(db, "gerant@ma.bf", Role.MANAGER, two.scope_a)
    db.commit()
    reply = client.post("/console/login", data={"login": "gerant@ma.bf", "password": PASSWORD})
    assert reply.status_code == 400 and "CSRF" in reply.get_data(as_text=True)
    csrf_token(client)
    forged = client.post(
        "/console/login",
        data={"login": "gerant@ma.bf", "password": PASSWORD, "csrf_token": "forged"},
    )
    assert forged.status_code == 400
    assert sign_in(client, "gerant@ma.bf").status_code == 302
    logout = client.post("/console/logout")  # signed in, still no token: refused
    assert logout.status_code == 400


def test_the_webhooks_need_no_csrf_token(console_app: Flask) -> None:
    """CSRF is the console's: a provider's callback carries no token and is not refused."""
    reply = console_app.test_client().post(
        "/sms/africastalking/delivery", data={"id": "ATXid_x", "status": "Success"}
    )
    assert reply.status_code != 400 or "CSRF" not in reply.get_data(as_text=True)
    assert reply.status_code < 500


def test_finance_with_totp_gives_a_code_once(
    db: Session, two: TwoMutuals, client: FlaskClient, console_clock: FixedClock
) -> None:
    user = make_user(db, "tresor@ma.bf", Role.FINANCE, two.scope_a, totp=True)
    secret = user.totp_secret
    db.commit()
    assert secret
    first = sign_in(client, "tresor@ma.bf")
    assert first.status_code == 302 and first.location.endswith("/console/login/code")
    assert client.get("/console/").status_code == 302  # the password alone is not enough
    token = csrf_token(client, "/console/login/code")
    wrong = client.post("/console/login/code", data={"code": "000000", "csrf_token": token})
    assert wrong.status_code == 401
    token = csrf_token(client, "/console/login/code")
    code = code_at(secret, NOW)
    right = client.post("/console/login/code", data={"code": code, "csrf_token": token})
    assert right.status_code == 302 and client.get("/console/").status_code == 200
    db.expire_all()
    assert db.get(User, user.id).totp_enrolled_at == NOW  # type: ignore[union-attr]
    db.rollback()  # SQLite: the read holds the write lock
    other = client.application.test_client()  # the same code again, elsewhere: refused
    sign_in(other, "tresor@ma.bf")
    token = csrf_token(other, "/console/login/code")
    again = other.post("/console/login/code", data={"code": code, "csrf_token": token})
    assert again.status_code == 401


def test_a_wrong_code_counts_toward_the_lock(
    db: Session, two: TwoMutuals, client: FlaskClient
) -> None:
    make_user(db, "tresor@ma.bf", Role.FINANCE, two.scope_a, totp=True)
    db.commit()
    sign_in(client, "tresor@ma.bf")
    for _ in range(LOCK_AFTER):
        token = csrf_token(client, "/console/login/code")
        client.post("/console/login/code", data={"code": "000000", "csrf_token": token})
    db.expire_all()
    user = db.scalars(select(User)).one()
    assert user.locked_until == NOW + dt.timedelta(minutes=15)


def _secret_on(page: str) -> str:
    return page.split('id="secret">')[1].split("<")[0]


def _production_app(settings: Settings, clock: FixedClock) -> Flask:
    app = create_app(dataclasses.replace(settings, env="production"))
    app.config["TESTING"] = True
    app.extensions["gateway"].clock = clock
    return app


def test_production_makes_admin_enrol_totp_first(
    db: Session, two: TwoMutuals, settings: Settings, console_clock: FixedClock
) -> None:
    make_user(db, "admin@ma.bf", Role.ADMIN, two.scope_a)  # no TOTP yet
    db.commit()
    app = _production_app(settings, console_clock)
    try:
        client = app.test_client()
        client.environ_base["wsgi.url_scheme"] = "https"
        reply = sign_in(client, "admin@ma.bf")
        assert reply.location.endswith("/console/login/enrol")
        assert client.get("/console/").status_code == 302
        first = _secret_on(client.get("/console/login/enrol").get_data(as_text=True))
        token = csrf_token(client, "/console/login/enrol")
        secret = _secret_on(client.get("/console/login/enrol").get_data(as_text=True))
        assert secret != first  # each display a new secret: none is shown twice
        code = code_at(secret, NOW)
        done = client.post("/console/login/enrol", data={"code": code, "csrf_token": token})
        assert done.status_code == 302 and client.get("/console/").status_code == 200
        cookie = done.headers.get("Set-Cookie", "")
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
        db.expire_all()
        assert db.scalars(select(User)).one().totp_secret == secret
    finally:
        app.extensions["gateway"].close()


def test_production_refuses_an_admin_session_without_totp(
    db: Session,
    two: TwoMutuals,
    settings: Settings,
    console_clock: FixedClock,
    client: FlaskClient,
) -> None:
    """A session opened before production's rule (or by any other way) is closed."""
    make_user(db, "admin@ma.bf", Role.ADMIN, two.scope_a)
    db.commit()
    assert sign_in(client, "admin@ma.bf").status_code == 302  # test env: no TOTP needed
    cookie = client.get_cookie("session")
    assert cookie is not None
    app = _production_app(settings, console_clock)
    try:
        other = app.test_client()
        other.set_cookie("session", cookie.value)
        assert other.get("/console/").status_code == 302
    finally:
        app.extensions["gateway"].close()


def test_cookie_flags_outside_production(db: Session, two: TwoMutuals, client: FlaskClient) -> None:
    make_user(db, "gerant@ma.bf", Role.MANAGER, two.scope_a)
    db.commit()
    cookie = sign_in(client, "gerant@ma.bf").headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_sign_in_records_no_operator_action(
    db: Session, two: TwoMutuals, client: FlaskClient
) -> None:
    """Signing in is not a change: only the user's creation is logged."""
    make_user(db, "gerant@ma.bf", Role.MANAGER, two.scope_a)
    db.commit()
    sign_in(client, "gerant@ma.bf")
    assert db.scalar(select(func.count(OperatorAction.id))) == 1


def test_the_login_page_follows_the_browser_language(client: FlaskClient) -> None:
    assert "Connexion" in client.get("/console/login").get_data(as_text=True)
    english = client.get("/console/login", headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert "Sign in" in english.get_data(as_text=True)
