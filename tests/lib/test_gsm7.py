"""GSM-7 in services: transliteration shared with the menus, and SMS segment counting."""

from __future__ import annotations

import pytest

from gateway.lib import gsm7
from gateway.menus.engine import render


def test_menus_use_the_services_transliteration() -> None:
    assert render.to_gsm is gsm7.to_gsm
    assert render.GSM7 is gsm7.GSM7
    assert render.clean("Ménage «Œuvre» – 5 €") == gsm7.clean("Ménage «Œuvre» – 5 €")
    assert gsm7.clean("Ménage «Œuvre» – 5 €") == 'Menage "OEuvre" - 5 EUR'
    with pytest.raises(gsm7.NotGsm7):
        gsm7.clean("Awa 名前", strict=True)
    with pytest.raises(render.RenderError):
        render.clean("Awa 名前", strict=True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("€" * 80, 1),  # extension characters count two septets
        ("€" + "a" * 159, 2),
        ("[]{}^~\\|" * 10, 1),
        ("[]{}^~\\|" * 10 + "a", 2),
        ("名" * 70, 1),  # outside GSM-7: UCS-2, 70 / 67
        ("名" * 71, 2),
        ("名" * 135, 3),
    ],
)
def test_segments(text: str, expected: int) -> None:
    assert gsm7.segments(text) == expected


def test_septets_count_extension_characters_twice() -> None:
    assert gsm7.septets("a€[") == 5
    assert gsm7.septets("é\n") == 2
    assert gsm7.septets("名") is None
