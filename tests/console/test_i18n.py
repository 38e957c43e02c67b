"""The console's words come from the same catalogs as the USSD texts (gateway/locales, table
`[console]`), French first; both languages have the same keys and placeholders. Phones shown
by templates are masked."""

from __future__ import annotations

from gateway.console import mask_phone
from gateway.console.i18n import text
from gateway.lib.catalogs import LANGUAGES, console_texts, placeholders, ussd_messages


def test_every_language_has_the_same_console_keys_and_placeholders() -> None:
    reference = console_texts("fr")
    for lang in LANGUAGES:
        table = console_texts(lang)
        assert table.keys() == reference.keys(), lang
        for key, value in table.items():
            assert placeholders(value) == placeholders(reference[key]), (lang, key)


def test_the_console_table_is_not_a_ussd_text() -> None:
    assert "console" not in ussd_messages("fr") and "login_title" not in ussd_messages("fr")


def test_text_falls_back_to_french_and_fills_placeholders() -> None:
    assert text("en", "home_scope", scope="X") == "Scope: X"
    assert text("wo", "login_title") == "Connexion"


def test_phones_are_masked() -> None:
    assert mask_phone("+22670112233") == "+22670****33"
    assert mask_phone(None) == "" and mask_phone("") == ""
