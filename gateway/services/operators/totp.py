"""TOTP second factor (pyotp, RFC 6238) for admin and finance (console.md): a code is accepted
once (its time step is remembered), one step of clock drift either way."""

from __future__ import annotations

import datetime as dt

import pyotp

ISSUER = "Mutual gateway"
DRIFT_STEPS = 1


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, login: str) -> str:
    """The `otpauth://` URI an authenticator app reads (shown once)."""
    return pyotp.TOTP(secret).provisioning_uri(name=login, issuer_name=ISSUER)


def matching_step(secret: str, code: str, now: dt.datetime) -> int | None:
    """The time step the code belongs to (now, or one step either side), or None."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    step = int(now.timestamp()) // totp.interval
    for candidate in range(step - DRIFT_STEPS, step + DRIFT_STEPS + 1):
        if pyotp.utils.strings_equal(totp.generate_otp(candidate), code):
            return candidate
    return None


def code_at(secret: str, now: dt.datetime) -> str:
    """The code of that moment (tests, the browser test's finance user)."""
    return pyotp.TOTP(secret).at(now)
