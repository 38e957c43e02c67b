"""The sending window (D16): messages go out between a mutual's `quiet_hours_end` (the window
opens) and `quiet_hours_start` (it closes), in the mutual's timezone. One place for every job
that sends on its own initiative (campaign reminders, coverage notices)."""

from __future__ import annotations

import datetime as dt

from gateway import clock
from gateway.models import Mutual


def in_window(mutual: Mutual, at: dt.datetime) -> bool:
    """D16: whether `at` (aware, any zone) is inside the mutual's sending window; a window
    that crosses midnight (opens 22:00, closes 06:00) is open on both sides of it."""
    if at.tzinfo is None:
        raise ValueError("in_window needs a timezone-aware datetime")
    local = at.astimezone(clock.zone(mutual.timezone)).time()
    opens, closes = mutual.quiet_hours_end, mutual.quiet_hours_start
    if opens <= closes:
        return opens <= local < closes
    return local >= opens or local < closes


def window_opens(mutual: Mutual, day: dt.date) -> dt.datetime:
    """The moment (UTC) the sending window opens on a local `day`: when something due that
    day is first sent, and what `catch_up_hours` counts from (D16)."""
    moment = dt.datetime.combine(day, mutual.quiet_hours_end, tzinfo=clock.zone(mutual.timezone))
    return moment.astimezone(dt.UTC)
