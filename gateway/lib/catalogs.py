"""Message catalogs on disk: `gateway/locales/<lang>.toml`, read on first use and cached.

The top-level keys are the USSD texts (gateway.menus.engine.catalog); the `[sms]` table holds
the SMS templates (messaging.md); the `[console]` table the operator console's words (issue
16). Both menus and services read the files through here, so services never import the menus."""

from __future__ import annotations

import string
import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

# Language code -> its own name, as shown in the language menu. French is the default (ussd.md).
LANGUAGES: dict[str, str] = {"fr": "Francais", "en": "English"}
DEFAULT_LANGUAGE = "fr"
SMS_TABLE = "sms"
CONSOLE_TABLE = "console"
TABLES = (SMS_TABLE, CONSOLE_TABLE)


def pick_language(*candidates: str | None) -> str:
    """The first candidate that has a catalog (household's, then mutual's), else French."""
    return next((c for c in candidates if c in LANGUAGES), DEFAULT_LANGUAGE)


@cache
def load_catalog(lang: str) -> Mapping[str, Any]:
    """The parsed TOML of a language, read once from gateway/locales."""
    if lang not in LANGUAGES:
        raise KeyError(f"no catalog configured for language {lang!r}")
    path = resources.files("gateway").joinpath("locales", f"{lang}.toml")
    return MappingProxyType(tomllib.loads(path.read_text(encoding="utf-8")))


def _strings(lang: str, table: Mapping[str, Any], where: str) -> dict[str, str]:
    bad = sorted(key for key, value in table.items() if not isinstance(value, str))
    if bad:
        raise ValueError(f"{lang}.toml{where}: keys must map to strings: {', '.join(bad)}")
    return dict(table)


@cache
def ussd_messages(lang: str) -> Mapping[str, str]:
    """The flat key -> text table of the USSD menus (every top-level key but the tables)."""
    data = {k: v for k, v in load_catalog(lang).items() if k not in TABLES}
    return MappingProxyType(_strings(lang, data, ""))


def _table(lang: str, name: str) -> Mapping[str, str]:
    table = load_catalog(lang).get(name, {})
    if not isinstance(table, dict):
        raise ValueError(f"{lang}.toml: [{name}] must be a table")
    return MappingProxyType(_strings(lang, table, f" [{name}]"))


@cache
def sms_templates(lang: str) -> Mapping[str, str]:
    """The `[sms]` table: template key -> text with `{placeholders}`."""
    return _table(lang, SMS_TABLE)


@cache
def console_texts(lang: str) -> Mapping[str, str]:
    """The `[console]` table: the operator console's words, key -> text with `{placeholders}`."""
    return _table(lang, CONSOLE_TABLE)


def placeholders(text: str) -> set[str]:
    """The `{names}` a text expects; the validator compares them across languages."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}
