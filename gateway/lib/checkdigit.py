"""Check digits for the numbers the gateway generates (D24, issue 18): the Damm algorithm, one
decimal digit that catches every single-digit substitution and every transposition of two
adjacent digits (Luhn misses 09 <-> 90; ISO 7064 mod 97 needs two digits).

Generated numbers have a fixed shape (`is_generated`): a household number is `9`, a 7-digit
serial and its check digit (9 digits); a member number is the household's 9 digits, a 2-digit
rank and its own check digit (12 digits). Numbers imported from a mutual's file keep working:
the check applies only to digits of that shape (ussd.md: numbers match by their digits)."""

from __future__ import annotations

import re

# Damm's totally anti-symmetric quasigroup of order 10 (H. M. Damm, 2004).
_TABLE = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)
PREFIX = "9"
SERIAL_DIGITS = 7
RANK_DIGITS = 2
HOUSEHOLD_LEN = len(PREFIX) + SERIAL_DIGITS + 1
MEMBER_LEN = HOUSEHOLD_LEN + RANK_DIGITS + 1
MAX_SERIAL = 10**SERIAL_DIGITS - 1
MAX_RANK = 10**RANK_DIGITS - 1
_TAIL = MEMBER_LEN - HOUSEHOLD_LEN
_GENERATED = re.compile(rf"{PREFIX}[0-9]{{{HOUSEHOLD_LEN - 1}}}([0-9]{{{_TAIL}}})?")


def damm(digits: str) -> int:
    """The Damm interim digit of `digits` (0 when `digits` ends with its valid check digit)."""
    interim = 0
    for char in digits:
        if not ("0" <= char <= "9"):
            raise ValueError(f"not a digit: {char!r}")
        interim = _TABLE[interim][ord(char) - 48]
    return interim


def with_check(digits: str) -> str:
    """`digits` followed by its check digit."""
    return digits + str(damm(digits))


def is_valid(digits: str) -> bool:
    return bool(digits) and digits.isascii() and digits.isdigit() and damm(digits) == 0


def is_generated(digits: str) -> bool:
    """Digits of the shape the gateway generates (a household's 9 or a member's 12)."""
    return bool(_GENERATED.fullmatch(digits))


def typo(digits: str) -> bool:
    """True when `digits` look generated but their check digit is wrong: a mistyped number,
    refused before any lookup; any other digits (imported numbers) are never a typo."""
    return is_generated(digits) and not is_valid(digits)


def household_number(serial: int) -> str:
    if not 1 <= serial <= MAX_SERIAL:
        raise ValueError(f"household serial {serial} out of 1..{MAX_SERIAL}")
    return with_check(f"{PREFIX}{serial:0{SERIAL_DIGITS}d}")


def member_number(household: str, rank: int) -> str:
    """The `rank`-th member (1 = the head) of a generated household."""
    if not (len(household) == HOUSEHOLD_LEN and is_valid(household)):
        raise ValueError(f"{household!r} is not a generated household number")
    if not 1 <= rank <= MAX_RANK:
        raise ValueError(f"member rank {rank} out of 1..{MAX_RANK}")
    return with_check(f"{household}{rank:0{RANK_DIGITS}d}")
