"""The periodic half of D22's "recomputed when its data change": read the dirty marks the
writes left (gateway.models.indicator), recompute each marked mutual from its earliest marked
day, and delete exactly the marks read (a mark added meanwhile waits for the next run)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gateway.models import IndicatorDirty
from gateway.services.indicators.compute import recompute

BATCH = 10_000


def recompute_dirty(session: Session, today: dt.date, now: dt.datetime) -> int:
    """Recompute what the marks name; returns how many mutuals were recomputed."""
    marks = session.execute(
        select(IndicatorDirty.id, IndicatorDirty.mutual_id, IndicatorDirty.since)
        .order_by(IndicatorDirty.id)
        .limit(BATCH)
    ).all()
    if not marks:
        return 0
    since: dict[int, dt.date] = {}
    for _, mutual_id, day in marks:
        since[mutual_id] = min(day, since.get(mutual_id, day))
    by_day: dict[dt.date, list[int]] = defaultdict(list)
    for mutual_id, day in since.items():
        by_day[min(day, today)].append(mutual_id)
    for day, mutual_ids in sorted(by_day.items()):
        recompute(session, mutual_ids, day, today, now)
    ids = [mark_id for mark_id, _, _ in marks]
    for at in range(0, len(ids), 1000):
        session.execute(delete(IndicatorDirty).where(IndicatorDirty.id.in_(ids[at : at + 1000])))
    return len(since)


def mark_dirty(session: Session, mutual_id: int, since: dt.date, now: dt.datetime) -> None:
    """Mark a mutual's figures from `since` on (a change no watched write records: a target)."""
    session.add(IndicatorDirty(mutual_id=mutual_id, since=since, marked_at=now))
