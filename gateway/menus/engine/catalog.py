"""Message catalogs (ussd.md: texts live in catalogs per language, never inline in code).

Adding a language is one file, `gateway/locales/<code>.toml` with every key of `fr.toml`, and
one line in `LANGUAGES`; the validator refuses to start when a key or a placeholder is missing.
Catalogs are read on first use (no I/O at import time) and cached for the process."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from gateway.lib import formatting
from gateway.lib.catalogs import DEFAULT_LANGUAGE as DEFAULT_LANGUAGE
from gateway.lib.catalogs import LANGUAGES as LANGUAGES
from gateway.lib.catalogs import pick_language as pick_language
from gateway.lib.catalogs import placeholders as placeholders
from gateway.lib.catalogs import ussd_messages
from gateway.settings import Settings

# Screen budget per network (MCC+MNC), for networks that show fewer characters than
# GATEWAY_SCREEN_LIMIT (default 160, ussd.md). The validator checks every screen against the
# smallest budget configured here, so a value only goes in once the menus fit it.
# Example: {"61302": 150} for a network that cuts at 150 characters.
NETWORK_SCREEN_LIMITS: dict[str, int] = {}


def screen_budget(settings: Settings, network_code: str | None) -> int:
    """Characters a screen may hold on this network (navigation lines included)."""
    return NETWORK_SCREEN_LIMITS.get(network_code or "", settings.screen_limit)


def all_budgets(settings: Settings) -> set[int]:
    """Every budget in use: the validator renders each screen against each of them."""
    return {settings.screen_limit, *NETWORK_SCREEN_LIMITS.values()}


def messages(lang: str) -> Mapping[str, str]:
    """The flat key -> text table of a language (the `[sms]` table is not part of it)."""
    return ussd_messages(lang)


@dataclass(frozen=True)
class Translator:
    """Texts, dates and amounts in one language; `t("key", name=...)` formats a message."""

    lang: str

    def __call__(self, key: str, **params: object) -> str:
        return messages(self.lang)[key].format(**params)

    def has(self, key: str) -> bool:
        return key in messages(self.lang)

    def amount(self, value: int) -> str:
        """D2 in this language (gateway.lib.formatting)."""
        return formatting.money(value, self.lang)

    def date(self, day: dt.date | None) -> str:
        """dd/mm/yyyy (gateway.lib.formatting)."""
        return formatting.day(day)


def translator(lang: str) -> Translator:
    return Translator(pick_language(lang))
