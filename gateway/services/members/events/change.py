"""What an event is (D23): its type, effective date, reason, author and data."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from gateway.models import Beneficiary

EVENT_TYPES = (
    "add-dependant",
    "depart",
    "death",
    "reenrol",
    "change-head",
    "category",
    "product",
    "suspend",
    "lift",
    "correct",
)
# Types that name one beneficiary (the others name the household).
ABOUT_BENEFICIARY = ("depart", "death", "reenrol", "suspend", "lift", "correct")


class EventError(ValueError):
    """An event that cannot apply to the register as it is (the reason is for the operator)."""


@dataclass(frozen=True)
class Change:
    """An event to record: its type, effective date, why and by whom, the beneficiary it is
    about (ABOUT_BENEFICIARY types) and the type's data (new category, certificate, ...)."""

    type: str
    on: dt.date
    reason: str
    by: str
    beneficiary: Beneficiary | None = None
    data: dict[str, Any] = field(default_factory=dict)
