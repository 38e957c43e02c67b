"""The sending window (D16) in the mutual's timezone, and its opening moment (what catch-up
counts from), shared by the reminders and the coverage notices."""

from __future__ import annotations

import datetime as dt

import pytest

from gateway.models import Mutual
from gateway.services.messaging import in_window, window_opens

UTC = dt.UTC


def test_the_default_window_is_8_to_20_local(mutual: Mutual) -> None:
    mutual.timezone = "Africa/Nairobi"  # UTC+3
    day = dt.date(2026, 3, 11)
    assert window_opens(mutual, day) == dt.datetime(2026, 3, 11, 5, 0, tzinfo=UTC)
    assert not in_window(mutual, dt.datetime(2026, 3, 11, 4, 59, tzinfo=UTC))
    assert in_window(mutual, dt.datetime(2026, 3, 11, 5, 0, tzinfo=UTC))
    assert in_window(mutual, dt.datetime(2026, 3, 11, 16, 59, tzinfo=UTC))
    assert not in_window(mutual, dt.datetime(2026, 3, 11, 17, 0, tzinfo=UTC))  # 20:00 local


def test_a_window_across_midnight_is_open_on_both_sides(mutual: Mutual) -> None:
    mutual.quiet_hours_end, mutual.quiet_hours_start = dt.time(22, 0), dt.time(6, 0)
    assert in_window(mutual, dt.datetime(2026, 3, 11, 23, 0, tzinfo=UTC))
    assert in_window(mutual, dt.datetime(2026, 3, 12, 5, 59, tzinfo=UTC))
    assert not in_window(mutual, dt.datetime(2026, 3, 12, 6, 0, tzinfo=UTC))
    assert not in_window(mutual, dt.datetime(2026, 3, 12, 12, 0, tzinfo=UTC))


def test_a_naive_moment_is_refused(mutual: Mutual) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        in_window(mutual, dt.datetime.fromisoformat("2026-03-11T09:00"))
