"""The one clock: every service asks it for "now" so tests can fix time."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class Clock:
    """Wall clock, timezone-aware (UTC)."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def today(self) -> dt.date:
        return self.now().date()


@dataclass
class FixedClock(Clock):
    """A clock that only moves when told to (tests, `--now`, `--on`)."""

    at: dt.datetime = field(default_factory=lambda: dt.datetime(2026, 1, 1, tzinfo=dt.UTC))

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")

    def now(self) -> dt.datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at = self.at + dt.timedelta(**delta)


def zone(name: str) -> ZoneInfo:
    """A mutual's timezone; UTC for a name this machine does not know (the mutual's file is
    checked when loaded, so this only guards a timezone database older than the file)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_date(now: dt.datetime, timezone: str) -> dt.date:
    """The calendar day at `now` in a mutual's timezone: what a member or agent calls today."""
    return now.astimezone(zone(timezone)).date()
