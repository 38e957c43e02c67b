"""Phone numbers at the edge: normalised once to E.164 with `phonenumbers`, masked in logs."""

from __future__ import annotations

import hashlib
import hmac
import re
from functools import lru_cache

import phonenumbers

# What people write between digits: spaces, dots, dashes, slashes, brackets.
_ALLOWED = re.compile(r"^[0-9+ .\-/()]+$")
_NOT_DIGIT = re.compile(r"[^0-9]")


class InvalidPhone(ValueError):
    """A phone number that is not a valid number of the expected plan; the message says why."""


@lru_cache(maxsize=16_384)  # a USSD session sends its phone on every hop; parsing is costly
def normalize_msisdn(raw: str, country: str) -> str:
    """E.164 (`+22670123412`) from national, international or 00-prefixed notation.

    A leading space stands for a `+` lost in URL decoding (`' 22670123412'`), so that
    reading is tried first, then the usual one with `country` as the default region."""
    text = raw.strip()
    if not text:
        raise InvalidPhone("phone number is empty")
    if not _ALLOWED.match(text):
        raise InvalidPhone(f"unexpected characters in phone number {text!r}")
    candidates = [text]
    if raw[:1].isspace() and text[:1] in "123456789":
        candidates.insert(0, "+" + text)
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, country.upper())
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    raise InvalidPhone(f"not a valid phone number for {country.upper()}: {text!r}")


def mask_msisdn(msisdn: str) -> str:
    """`+22670****12`: enough to tell numbers apart in logs, not enough to call them."""
    if len(msisdn) <= 8:
        return "****"
    return f"{msisdn[:-6]}****{msisdn[-2:]}"


def digits_of(number: str) -> str:
    """The ASCII digits of a card number: what a member can type on a keypad (ussd.md)."""
    return _NOT_DIGIT.sub("", number)


PHONE_KEY_LEN = 32


def phone_key(secret: str, msisdn: str) -> str:
    """Keyed hash of an E.164 phone (HMAC-SHA256 with the app's secret key, 32 hex digits): the
    USSD session store's per-phone key and owner, and the audit's `phone_key` column that finds
    a member's calls (issue 16). Stable for one secret, useless without it (a plain hash of a
    phone number is reversed by enumerating numbers)."""
    digest = hmac.new(secret.encode(), f"ussd-phone:{msisdn}".encode(), hashlib.sha256)
    return digest.hexdigest()[:PHONE_KEY_LEN]
