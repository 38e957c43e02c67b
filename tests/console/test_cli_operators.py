"""`gateway users add` (the first admin, console.md) and `gateway unions add|attach` (D27)."""

from __future__ import annotations

from click.testing import CliRunner, Result
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.cli import main
from gateway.models import Mutual, OperatorAction, Role, ScopeKind, Union, User
from gateway.services.operators import verify_password
from tests.console.conftest import TwoMutuals
from tests.support.console import PASSWORD


def _run(cli_env: dict[str, str], *args: str, stdin: str = f"{PASSWORD}\n") -> Result:
    return CliRunner().invoke(main, list(args), input=stdin, env=cli_env)


def test_the_first_admin_gets_a_totp_uri_once(
    db: Session, two: TwoMutuals, cli_env: dict[str, str]
) -> None:
    db.commit()
    result = _run(
        cli_env,
        "users",
        "add",
        "--login",
        "Admin@Fed.bf",
        "--role",
        "admin",
        "--scope",
        "all",
        "--name",
        "Awa",
    )
    assert result.exit_code == 0, result.output
    assert "user #1 admin@fed.bf (admin, all) created" in result.output
    assert "otpauth://totp/Mutual%20gateway:admin%40fed.bf?secret=" in result.output
    db.expire_all()
    user = db.scalars(select(User)).one()
    assert (user.role, user.scope_kind, user.name) == (Role.ADMIN, ScopeKind.ALL, "Awa")
    assert user.totp_secret and user.totp_secret in result.output
    assert verify_password(user.password_hash, PASSWORD) and PASSWORD not in result.output
    action = db.scalars(select(OperatorAction)).one()
    assert (action.action, action.user_id, action.after) == (
        "user.add",
        None,
        {"login": "admin@fed.bf", "role": "admin", "scope": "all", "language": "fr"},
    )


def test_a_section_manager_has_no_totp(
    db: Session, two: TwoMutuals, cli_env: dict[str, str]
) -> None:
    db.commit()
    result = _run(
        cli_env,
        "users",
        "add",
        "--login",
        "+22670112233",
        "--role",
        "manager",
        "--scope",
        "section:MA/Nord",
    )
    assert result.exit_code == 0, result.output
    assert "otpauth" not in result.output
    db.expire_all()
    user = db.scalars(select(User)).one()
    assert (user.scope_mutual_id, user.scope_section_id) == (two.a.id, two.section_a.id)


def test_refusals_say_why(db: Session, two: TwoMutuals, cli_env: dict[str, str]) -> None:
    db.commit()
    cases = [
        (["--scope", "mutual:NOPE"], PASSWORD, "no mutual NOPE"),
        (["--scope", "section:MA/Ouest"], PASSWORD, "no section 'Ouest' in mutual MA"),
        (["--scope", "union:UN"], PASSWORD, "no union UN"),
        (["--scope", "everything"], PASSWORD, "a scope is all, union:CODE"),
        (["--scope", "all"], "short", "at least 10 characters"),
        (["--scope", "all"], "", "no password on stdin"),
    ]
    for extra, password, reason in cases:
        result = _run(
            cli_env,
            "users",
            "add",
            "--login",
            "x@ma.bf",
            "--role",
            "viewer",
            *extra,
            stdin=f"{password}\n" if password else "",
        )
        assert result.exit_code != 0 and reason in result.output, result.output
    bad_login = _run(cli_env, "users", "add", "--login", "x", "--role", "viewer", "--scope", "all")
    assert "a login is an email or a phone" in bad_login.output
    assert (
        _run(
            cli_env, "users", "add", "--login", "x@ma.bf", "--role", "viewer", "--scope", "all"
        ).exit_code
        == 0
    )
    again = _run(
        cli_env, "users", "add", "--login", "X@ma.bf", "--role", "viewer", "--scope", "all"
    )
    assert "exists already" in again.output


def test_unions_group_mutuals(db: Session, two: TwoMutuals, cli_env: dict[str, str]) -> None:
    db.commit()
    assert _run(cli_env, "unions", "add", "UN", "Union du Nord").exit_code == 0
    assert "exists already" in _run(cli_env, "unions", "add", "UN", "Again").output
    assert "is in union UN" in _run(cli_env, "unions", "attach", "MA", "UN").output
    assert "no union XX" in _run(cli_env, "unions", "attach", "MB", "XX").output
    db.expire_all()
    union = db.scalars(select(Union)).one()
    assert db.get(Mutual, two.a.id).union_id == union.id  # type: ignore[union-attr]
    db.rollback()
    result = _run(
        cli_env, "users", "add", "--login", "tu@un.bf", "--role", "viewer", "--scope", "union:UN"
    )
    assert result.exit_code == 0, result.output
    assert "in no union" in _run(cli_env, "unions", "attach", "MA").output
    db.expire_all()
    actions = [a.action for a in db.scalars(select(OperatorAction).order_by(OperatorAction.id))]
    assert actions == ["union.add", "mutual.set_union", "user.add", "mutual.set_union"]
