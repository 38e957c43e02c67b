"""Production refusals that need more than the environment (issue 15, acceptance 3): a mutual
paid by the sandbox provider, the demo's published PINs, and any command run against a
database that is not migrated (one line, no traceback, no empty SQLite file created)."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gateway import migrate
from gateway.cli import main
from gateway.runtime import Runtime
from gateway.safety import check_start, start_problems
from gateway.services.mutuals import ConfigError, load_mutual
from gateway.settings import SANDBOX_OPT_IN, Settings, SettingsError
from tests.support.factories import make_mutual

DEMO_TOML = Path("gateway/demo/demo.toml")


def production(env: dict[str, str], **changes: Any) -> Settings:
    """The test's settings seen as production (the embedded test database stays usable)."""
    return dataclasses.replace(Settings.from_env(env), env="production", **changes)


@pytest.fixture
def as_production(cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """`gateway` commands invoked in-process read production settings."""
    settings = production(cli_env)
    monkeypatch.setattr(Settings, "from_env", classmethod(lambda cls, environ=None: settings))
    return cli_env


def test_demo_is_refused_in_production_without_force(as_production: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["demo"], env=as_production)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: GATEWAY_ENV=production: the demo creates agents with published PINs; "
        "refused without --force"
    ]


def test_demo_with_force_loads_in_production(as_production: dict[str, str], engine: Engine) -> None:
    result = CliRunner().invoke(main, ["demo", "--force"], env=as_production)
    assert result.exit_code == 0, result.output
    assert "PIN" in result.output


def test_mutual_load_refuses_a_sandbox_provider_in_production(
    as_production: dict[str, str], engine: Engine
) -> None:
    result = CliRunner().invoke(main, ["mutual", "load", str(DEMO_TOML)], env=as_production)
    assert result.exit_code == 1
    assert "mutual.payment_provider: is sandbox (the default), refused in production" in (
        result.output
    )


def test_load_mutual_refuses_the_sandbox_only_when_told(db: Session) -> None:
    with pytest.raises(ConfigError) as info:
        load_mutual(db, DEMO_TOML, allow_sandbox=False)
    assert [p.split(":")[0] for p in info.value.problems] == ["mutual.payment_provider"]
    assert load_mutual(db, DEMO_TOML).payment_provider == "sandbox"


def test_start_is_refused_in_production_while_a_mutual_uses_the_sandbox(
    cli_env: dict[str, str], engine: Engine, db: Session
) -> None:
    make_mutual(db, code="SBX")
    db.commit()
    runtime = Runtime(production(cli_env))
    try:
        with pytest.raises(SettingsError) as info:
            check_start(runtime)
    finally:
        runtime.close()
    assert info.value.problems == [
        "mutual SBX: payment_provider is sandbox, refused in production (no money moves): "
        "load it with a real provider, or set GATEWAY_ALLOW_SANDBOX_IN_PRODUCTION"
    ]


def test_worker_start_is_refused_in_production_with_a_sandbox_mutual(
    as_production: dict[str, str], engine: Engine, db: Session
) -> None:
    make_mutual(db, code="SBX")
    db.commit()
    result = CliRunner().invoke(main, ["worker", "--burst"], env=as_production)
    assert result.exit_code == 1
    assert "mutual SBX: payment_provider is sandbox, refused in production" in result.output


def test_opted_in_production_starts_with_a_loud_warning(
    cli_env: dict[str, str], db: Session, caplog: pytest.LogCaptureFixture
) -> None:
    make_mutual(db, code="SBX")
    settings = production(cli_env, allow_sandbox_in_production=True, sandbox_auto="approve")
    with caplog.at_level(logging.WARNING, logger="gateway.safety"):
        assert start_problems(settings, db) == []
    assert "PRODUCTION RUNS THE SANDBOX PAYMENT PROVIDER" in caplog.text
    assert SANDBOX_OPT_IN in caplog.text and "SBX" in caplog.text


def test_development_starts_whatever_the_provider(cli_env: dict[str, str], db: Session) -> None:
    make_mutual(db, code="SBX")
    assert start_problems(Settings.from_env(cli_env), db) == []
    runtime = Runtime(Settings.from_env(cli_env))
    check_start(runtime)  # no database access outside production
    runtime.close()


# --- the database must be set up ----------------------------------------------------------


def test_a_command_outside_the_project_refuses_without_creating_a_database(
    tmp_path: Path,
) -> None:
    env = {"GATEWAY_ENV": "test", "GATEWAY_VAR_DIR": str(tmp_path / "var"), "DATABASE_URL": ""}
    result = CliRunner().invoke(main, ["ledger", "check"], env=env)
    assert result.exit_code == 1
    path = (tmp_path / "var" / "gateway.db").resolve()
    assert result.output.strip().splitlines() == [
        f"Error: the database at {path} is not set up: run `gateway db upgrade` "
        "(or set DATABASE_URL or GATEWAY_VAR_DIR)"
    ]
    assert not path.exists() and not (tmp_path / "var").exists()


def test_an_unmigrated_database_is_refused_in_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    migrate.upgrade(url, "0001")
    migrate.downgrade(url, "base")  # the file exists, the schema does not
    result = CliRunner().invoke(main, ["ledger", "check"], env={"DATABASE_URL": url})
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: the database at {tmp_path / 'empty.db'} is not set up: run `gateway db upgrade`"
    ]


def test_a_database_behind_the_code_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate.upgrade(url, "0001")
    result = CliRunner().invoke(main, ["ledger", "check"], env={"DATABASE_URL": url})
    assert result.exit_code == 1
    head = migrate.head_revision(url)
    assert f"is at revision 0001, the code needs {head}: run `gateway db upgrade`" in (
        result.output
    )


def test_db_commands_and_help_need_no_schema(tmp_path: Path) -> None:
    env = {"GATEWAY_ENV": "test", "GATEWAY_VAR_DIR": str(tmp_path), "DATABASE_URL": ""}
    assert CliRunner().invoke(main, ["ledger", "check", "--help"], env=env).exit_code == 0
    result = CliRunner().invoke(main, ["db", "current"], env=env)
    assert result.exit_code == 0 and result.output.strip() == "base"


@pytest.mark.parametrize("kind", ["not a database file", "a server that refuses"])
def test_a_database_that_cannot_be_used_is_one_line(tmp_path: Path, kind: str) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not SQLite at all" * 100)
    url = f"sqlite:///{garbage}" if kind.startswith("not") else "postgresql://u@127.0.0.1:1/x"
    result = CliRunner().invoke(main, ["ledger", "check"], env={"DATABASE_URL": url})
    assert result.exit_code == 1
    (line,) = result.output.strip().splitlines()
    assert line.startswith("Error: the database at ") and " cannot be used: " in line
