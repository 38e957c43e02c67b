"""Operator passwords (D27): argon2id through argon2-cffi, the parameters inside each hash, so a
hash made with older parameters is upgraded at the next successful sign-in."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 10
# argon2-cffi's defaults: RFC 9106's "low memory" profile (t=3, 64 MiB, p=4). Tests swap a
# cheaper hasher in (tests/console/conftest.py); production never does.
HASHER = PasswordHasher()


class PasswordError(ValueError):
    """A password refused before hashing (too short)."""


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordError(f"a password has at least {MIN_PASSWORD_LENGTH} characters")
    return HASHER.hash(password)


def verify_password(stored: str, password: str) -> bool:
    """Constant-time check; a malformed or empty hash never matches."""
    try:
        return HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    try:
        return HASHER.check_needs_rehash(stored)
    except InvalidHashError:
        return True


_DUMMY: list[str] = []


def burn_time(password: str) -> None:
    """Verify against a hash made once, so an unknown login takes as long as a known one."""
    if not _DUMMY:
        _DUMMY.append(HASHER.hash("not-a-real-password"))
    verify_password(_DUMMY[0], password)
