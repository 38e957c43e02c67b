"""The one clock and a mutual's local day (D16, D20, D21: days are counted where the mutual is)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from gateway.clock import local_date, zone

LATE = dt.datetime(2026, 11, 24, 22, 30, tzinfo=dt.UTC)


def test_the_local_day_is_the_mutuals_not_utcs() -> None:
    assert local_date(LATE, "Africa/Nairobi") == dt.date(2026, 11, 25)  # UTC+3: after midnight
    assert local_date(LATE, "Africa/Ouagadougou") == dt.date(2026, 11, 24)  # UTC+0


def test_an_unknown_timezone_counts_in_utc() -> None:
    assert zone("Mars/Olympus") == ZoneInfo("UTC")
    assert zone("") == ZoneInfo("UTC")
    assert local_date(LATE, "Mars/Olympus") == dt.date(2026, 11, 24)
