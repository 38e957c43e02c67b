"""`gateway tokens add|list|revoke` (issue 17): the token printed once, only its hash stored, one
operator_actions row per add and per revoke."""

from __future__ import annotations

import hashlib

from click.testing import CliRunner, Result
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.cli import main
from gateway.models import ApiToken, OperatorAction, Role, ScopeKind
from tests.console.conftest import TwoMutuals


def _run(cli_env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=cli_env)


def test_token_lifecycle(db: Session, two: TwoMutuals, cli_env: dict[str, str]) -> None:
    db.commit()
    added = _run(
        cli_env, "tokens", "add", "--name", "erp", "--role", "finance", "--scope", "mutual:MA"
    )
    assert added.exit_code == 0, added.output
    secret = added.output.strip().splitlines()[-1]
    assert len(secret) >= 40
    row = db.scalars(select(ApiToken)).one()
    assert (row.role, row.scope_kind, row.scope_mutual_id) == (
        Role.FINANCE,
        ScopeKind.MUTUAL,
        two.a.id,
    )
    assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    db.rollback()  # SQLite: the read holds the lock the commands need
    listed = _run(cli_env, "tokens", "list")
    assert "erp\tfinance\tmutual:" in listed.output and secret not in listed.output
    assert "live" in listed.output
    again = _run(cli_env, "tokens", "add", "--name", "erp", "--role", "viewer", "--scope", "all")
    assert again.exit_code != 0 and "exists already" in again.output
    revoked = _run(cli_env, "tokens", "revoke", "erp")
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    assert _run(cli_env, "tokens", "revoke", "erp").exit_code != 0
    assert _run(cli_env, "tokens", "revoke", "nobody").exit_code != 0
    assert "revoked 2" in _run(cli_env, "tokens", "list").output
    actions = db.scalars(select(OperatorAction).order_by(OperatorAction.id)).all()
    assert [(a.action, a.object_type, a.mutual_id) for a in actions] == [
        ("token.add", "api_token", two.a.id),
        ("token.revoke", "api_token", two.a.id),
    ]
    assert secret not in str(actions[0].after)


def test_a_bad_scope_is_refused(db: Session, two: TwoMutuals, cli_env: dict[str, str]) -> None:
    db.commit()
    result = _run(
        cli_env, "tokens", "add", "--name", "x", "--role", "viewer", "--scope", "mutual:ZZ"
    )
    assert result.exit_code != 0 and "no mutual ZZ" in result.output
    assert db.scalars(select(ApiToken)).first() is None
