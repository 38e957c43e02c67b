"""The D22 code list: what each code counts, and how a value is read from its numerator and
denominator. Codes follow ILO/STEP (M.1 growth, M.2 retention, M.5 penetration, M.6 recovery)
where one exists; the rest are the gateway's own (docs/indicators.md has the formulas)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    COUNT = "count"  # a count or an amount: the value is the numerator, denominator 1
    RATIO = "ratio"  # numerator / denominator; rolled up by summing both


@dataclass(frozen=True)
class Code:
    code: str
    kind: Kind
    scope: str  # "section": one row per section; "mutual": mutual-wide rows (no section)


def _codes(kind: Kind, scope: str, *names: str) -> dict[str, Code]:
    return {name: Code(name, kind, scope) for name in names}


CODES: dict[str, Code] = {
    **_codes(Kind.COUNT, "section", "HH_START", "HH", "HH_NEW", "HH_LEFT"),
    **_codes(Kind.COUNT, "section", "BEN_START", "BEN", "BEN_NEW", "BEN_LEFT"),
    **_codes(Kind.RATIO, "section", "M.1", "M.1B", "PAID_UP", "M.6", "M.6F", "M.2", "M.5"),
    **_codes(Kind.RATIO, "section", "FUNDER_SHARE"),  # key: funder code
    **_codes(Kind.COUNT, "section", "AMOUNT", "PAYMENTS"),  # key: channel
    **_codes(Kind.COUNT, "mutual", "LEVY_OWED", "LEVY_PAID", "FUNDER_OWED", "FUNDER_PAID"),
    **_codes(Kind.COUNT, "mutual", "CAMP_TARGET", "CAMP_REMINDED", "CAMP_PAID", "CAMP_AMOUNT"),
    **_codes(Kind.COUNT, "mutual", "SMS", "SMS_FAILED", "SMS_COST", "USSD", "USSD_DROP"),
    **_codes(Kind.RATIO, "mutual", "SMS_DLR", "USSD_DONE"),
    **_codes(Kind.COUNT, "mutual", "CHECKS"),  # key: facility
    **_codes(Kind.RATIO, "mutual", "CHECKS_OK"),  # key: facility
}
# Shown as "not available" until claims are recorded (D22).
NOT_AVAILABLE = ("CLAIMS_RATIO", "SETTLEMENT_DELAY")


def kind_of(code: str) -> Kind:
    return CODES[code].kind if code in CODES else Kind.RATIO


def value(code: str, numerator: int, denominator: int) -> float | None:
    """interfaces.md: numerator / denominator rounded to 4 places, None when it is 0; a count
    is its numerator."""
    if kind_of(code) is Kind.COUNT:
        return float(numerator)
    return None if denominator == 0 else round(numerator / denominator, 4)
