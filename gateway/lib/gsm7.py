"""GSM-7 text (ussd.md, messaging.md): transliteration, checking and SMS segment counting.

USSD screens and SMS share one spelling: accents dropped (é -> e, ç -> c, œ -> oe), typographic
signs replaced (’ -> ', « » -> "), extension-table characters avoided. What is still outside the
basic table fails in strict mode and becomes `?` otherwise."""

from __future__ import annotations

import re
import unicodedata

# GSM 03.38 default alphabet (the extension table's characters cost two and are avoided).
GSM7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# GSM 03.38 extension table: each costs an escape plus the character, two septets.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
_SPECIAL = {
    "œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss", "ø": "o", "Ø": "O",
    "’": "'", "‘": "'", "ʼ": "'", "`": "'", "´": "'", "«": '"', "»": '"', "“": '"', "”": '"',
    "–": "-", "—": "-", "‑": "-", "…": "...", "\u00a0": " ", "\u202f": " ", "\t": " ",
    "€": "EUR", "°": "o", "[": "(", "]": ")", "{": "(", "}": ")", "|": "/", "~": "-",
}  # fmt: skip

# Characters per SMS: one GSM-7 segment, or each part of a concatenated message (UDH header).
SINGLE_GSM7, PART_GSM7 = 160, 153
SINGLE_UCS2, PART_UCS2 = 70, 67


class NotGsm7(ValueError):
    """Text left outside the GSM-7 basic table after transliteration (strict mode)."""


class _Transliteration(dict[int, str]):
    """str.translate table filled on first sight of each character: its replacement, then its
    compatibility decomposition without combining marks (what NFKD of the whole text and
    dropping the marks gives, one character at a time), at C speed for every later text."""

    def __missing__(self, code: int) -> str:
        swapped = _SPECIAL.get(chr(code), chr(code))
        decomposed = unicodedata.normalize("NFKD", swapped)
        plain = "".join(c for c in decomposed if not unicodedata.combining(c))
        self[code] = plain
        return plain


_TRANSLITERATION = _Transliteration()
_ALL_GSM7 = re.compile("[" + re.escape("".join(sorted(GSM7))) + "]*")


def to_gsm(text: str) -> str:
    """Plain GSM-7 spelling: accents dropped, typographic signs replaced."""
    return text.translate(_TRANSLITERATION)


def non_gsm(text: str) -> str:
    return "".join(sorted({c for c in text if c not in GSM7}))


def clean(text: str, strict: bool = False) -> str:
    """Transliterate; in strict mode refuse what is left outside GSM-7, else show `?`."""
    plain = to_gsm(text)
    if _ALL_GSM7.fullmatch(plain):
        return plain
    bad = non_gsm(plain)
    if bad and strict:
        raise NotGsm7(f"non GSM-7 characters {bad!r} in {plain!r}")
    return "".join(c if c in GSM7 else "?" for c in plain) if bad else plain


def septets(text: str) -> int | None:
    """GSM-7 length (extension characters count two), or None if the text needs UCS-2."""
    if _ALL_GSM7.fullmatch(text):
        return len(text)
    total = 0
    for c in text:
        if c in GSM7:
            total += 1
        elif c in GSM7_EXTENSION:
            total += 2
        else:
            return None
    return total


def segments(text: str) -> int:
    """SMS segments the text takes as sent: GSM-7 160 single / 153 per part, else UCS-2
    70 / 67 (UTF-16 units). An empty message still costs one."""
    size = septets(text)
    single, part = SINGLE_GSM7, PART_GSM7
    if size is None:
        size = len(text.encode("utf-16-le")) // 2
        single, part = SINGLE_UCS2, PART_UCS2
    if size <= single:
        return 1
    return -(-size // part)
