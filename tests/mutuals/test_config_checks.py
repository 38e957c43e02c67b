"""Mutual file checks of issue 14 (interfaces.md, Files: Mutual): a USSD service code
already another mutual's, and a language without a catalog in gateway/locales, are refused
with the key named."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gateway.cli import main
from gateway.services.mutuals.config import ConfigError, load_mutual

FILE = """
[mutual]
code = "{code}"
name = "Mutuelle {code}"
country = "ML"
timezone = "Africa/Bamako"
languages = {languages}
service_codes = {codes}

[[products]]
code = "STD"
name = "Base"
contribution = 6000
"""


def mutual_file(code: str, codes: str = "[]", languages: str = '["fr"]') -> str:
    return FILE.format(code=code, codes=codes, languages=languages)


def test_a_service_code_of_another_mutual_is_refused(db: Session) -> None:
    load_mutual(db, mutual_file("XYZ", '["*384*10#", "*384*11#"]'))
    with pytest.raises(ConfigError) as raised:
        load_mutual(db, mutual_file("ABC", '["*384*12#", "*384*11#", "*384*10#"]'))
    assert raised.value.problems == [
        "mutual.service_codes[1]: *384*11# is already used by mutual XYZ",
        "mutual.service_codes[2]: *384*10# is already used by mutual XYZ",
    ]
    # Its own codes, reloaded, and codes nobody has are fine.
    assert load_mutual(db, mutual_file("XYZ", '["*384*10#", "*384*11#"]')).code == "XYZ"
    assert load_mutual(db, mutual_file("ABC", '["*384*12#"]')).service_codes == ["*384*12#"]


def test_a_language_without_catalog_is_refused(db: Session) -> None:
    with pytest.raises(ConfigError) as raised:
        load_mutual(db, mutual_file("XYZ", languages='["fr", "bm"]'))
    assert raised.value.problems == [
        'mutual.languages[1]: no catalog for "bm" in gateway/locales (languages: fr, en)'
    ]
    assert load_mutual(db, mutual_file("XYZ", languages='["en", "fr"]')).languages == ["en", "fr"]


def test_cli_names_the_key(engine: Engine, database_url: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": database_url, "GATEWAY_ENV": "test"}
    first, second = tmp_path / "xyz.toml", tmp_path / "abc.toml"
    first.write_text(mutual_file("XYZ", '["*384*10#"]'), encoding="utf-8")
    second.write_text(mutual_file("ABC", '["*384*10#"]', '["wo"]'), encoding="utf-8")
    result = CliRunner().invoke(main, ["mutual", "load", str(first)], env=env)
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(main, ["mutual", "load", str(second)], env=env)
    assert result.exit_code == 1
    assert 'mutual.languages[0]: no catalog for "wo"' in result.output
    second.write_text(mutual_file("ABC", '["*384*10#"]'), encoding="utf-8")
    result = CliRunner().invoke(main, ["mutual", "load", str(second)], env=env)
    assert result.exit_code == 1
    assert "mutual.service_codes[0]: *384*10# is already used by mutual XYZ" in result.output
