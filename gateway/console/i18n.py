"""The console's words in the operator's language, from the same catalogs as the USSD texts
(gateway/locales/<lang>.toml, table `[console]`): French first, English second."""

from __future__ import annotations

from gateway.lib.catalogs import DEFAULT_LANGUAGE, LANGUAGES, console_texts


def text(lang: str, key: str, **values: object) -> str:
    """The text of `key` in `lang` (French when the language has no catalog)."""
    table = console_texts(lang if lang in LANGUAGES else DEFAULT_LANGUAGE)
    raw = table[key]
    return raw.format(**values) if values else raw
