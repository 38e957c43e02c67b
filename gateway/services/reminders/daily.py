"""D15 "a household gets at most one campaign reminder a day": of the reminders due to a
household in one run of its mutual (every campaign and rule), the most specific is sent and the
others are recorded 'skipped', so that no catch-up sends them later.

Most specific: a campaign for some sections before one for all sections; then the anchor,
`coverage_end` before `closes` before `opens`; then the later occurrence and the later offset;
then the lowest rule id. A reminder already sent to the household earlier that local day (an
earlier run, or a concurrent worker) wins over all of them: the database's partial unique index
on (household, sent_on) refuses a second 'sent' row (gateway.services.reminders.record)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from gateway.models import Mutual
from gateway.services.reminders import record
from gateway.services.reminders.record import Due

ANCHOR_RANK = {"opens": 0, "closes": 1, "coverage_end": 2}
Rank = tuple[bool, int, dt.datetime, int, int]


@dataclass
class DayCounts:
    """What recording one run's reminders of a mutual did, in rows (households x rules)."""

    sent: int = 0
    no_phone: int = 0
    skipped_daily: int = 0


def rank(due: Due) -> Rank:
    """Greater is more specific (see the module's docstring)."""
    return (
        bool(due.campaign.sections),
        ANCHOR_RANK[due.rule.anchor],
        due.occurrence.due_at,
        due.rule.offset_days,
        -due.rule.id,
    )


def pick(items: Sequence[Due]) -> tuple[list[Due], list[Due]]:
    """(the most specific item of each household, every other item)."""
    best: dict[int, Due] = {}
    others: list[Due] = []
    for due in items:
        household = due.target.household_id
        held = best.get(household)
        if held is None:
            best[household] = due
            continue
        if rank(due) > rank(held):
            best[household], due = due, held
        others.append(due)
    return list(best.values()), others


def _household(due: Due) -> int:
    return due.target.household_id


def record_day(
    session: Session, mutual: Mutual, items: Sequence[Due], today: dt.date, now: dt.datetime
) -> DayCounts:
    """Record `items` (not yet recorded, due now, `today` the mutual's local date): each
    household's pick 'sent' (or 'skipped' without a phone), the others 'skipped'. A pick the
    daily index refused (already sent today) is recorded 'skipped' too; one whose occurrence a
    concurrent run recorded is left to it. Rows go in household order, so that concurrent runs
    take the unique keys' locks in the same order."""
    picks, others = pick(items)
    picks.sort(key=_household)
    rows = [(d, "sent" if d.target.phone else "skipped") for d in picks]
    inserted = record.insert(session, rows, today, now)
    counts = DayCounts()
    won: list[tuple[Due, int]] = []
    lost: list[Due] = []
    for due in picks:
        row_id = inserted.get(due.key)
        if row_id is None:
            if due.target.phone:
                lost.append(due)
        elif due.target.phone:
            won.append((due, row_id))
        else:
            counts.no_phone += 1
    behind = sorted([*lost, *others], key=_household)
    skipped = record.insert(session, [(d, "skipped") for d in behind], today, now)
    for due in behind:
        if due.key in skipped:
            if due.target.phone:
                counts.skipped_daily += 1
            else:
                counts.no_phone += 1
    counts.sent = record.queue(session, mutual, won, today, now)
    return counts
