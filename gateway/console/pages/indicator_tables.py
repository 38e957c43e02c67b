"""The tables behind the indicators page's charts (D22): each is a header and rows, drawn as
an SVG chart, shown beside it and downloadable as CSV. Read from the stored `indicators` rows
only (gateway.services.indicators), never recomputed on page load."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from gateway.models import Campaign, Mutual, Section
from gateway.services.indicators import Figure, read_by_section, read_figures, value

CHARTS = ("recovery", "channels", "campaign", "sms")


@dataclass
class Table:
    name: str
    header: list[str]
    rows: list[list[object]] = field(default_factory=list)


def _pct(code: str, f: Figure | None) -> list[object]:
    if f is None:
        return [0, 0, None]
    return [f.numerator, f.denominator, value(code, f.numerator, f.denominator)]


def recovery(
    session: Session,
    period: str,
    mutual_ids: Sequence[int] | None,
    section_id: int | None,
    where: ColumnElement[bool],
) -> Table:
    """Paid-up share and member-share recovery (M.6) per section."""
    table = Table(
        "recovery", ["section", "paid", "households", "PAID_UP", "collected", "due", "M.6"]
    )
    found = read_by_section(session, period, ("PAID_UP", "M.6"), mutual_ids, where)
    names = _section_names(session, {k for k in found})
    for key in sorted(found, key=lambda k: names.get(k, "")):
        if section_id is not None and key[1] != section_id:
            continue
        cells = found[key]
        table.rows.append(
            [
                names.get(key, "-"),
                *_pct("PAID_UP", cells.get("PAID_UP")),
                *_pct("M.6", cells.get("M.6")),
            ]
        )
    return table


def _section_names(
    session: Session, keys: set[tuple[int, int | None]]
) -> dict[tuple[int, int | None], str]:
    codes = dict(session.execute(select(Mutual.id, Mutual.code)).all())
    ids = [s for _, s in keys if s is not None]
    sections = dict(
        session.execute(select(Section.id, Section.name).where(Section.id.in_(ids))).all()
    )
    return {(m, s): f"{codes.get(m, m)}/{sections.get(s, '-') if s else '-'}" for m, s in keys}


def channels(figures: Sequence[Figure]) -> Table:
    table = Table("channels", ["channel", "amount", "payments"])
    counts = {f.key: f.numerator for f in figures if f.code == "PAYMENTS"}
    for f in figures:
        if f.code == "AMOUNT":
            table.rows.append([f.key, f.numerator, counts.get(f.key, 0)])
    return table


def sms(figures: Sequence[Figure]) -> Table:
    by = {f.code: f for f in figures if not f.key}
    dlr = by.get("SMS_DLR")
    return Table(
        "sms",
        ["sent", "delivered", "failed", "delivery_rate", "cost"],
        [
            [
                by["SMS"].numerator if "SMS" in by else 0,
                dlr.numerator if dlr else 0,
                by["SMS_FAILED"].numerator if "SMS_FAILED" in by else 0,
                dlr.value if dlr else None,
                by["SMS_COST"].numerator if "SMS_COST" in by else 0,
            ]
        ],
    )


def campaign(
    session: Session, mutual_id: int | None, figures: Sequence[Figure], where: ColumnElement[bool]
) -> Table:
    """The latest campaign of the period, amount collected cumulated per day since it opened,
    against the campaign before it (same mutual) on the same day index."""
    table = Table("campaign", ["day", "current", "previous"])
    codes = sorted({f.key.split(":")[0] for f in figures if f.code == "CAMP_TARGET"})
    if mutual_id is None or not codes:
        return table
    query = select(Campaign).where(Campaign.mutual_id == mutual_id, where)
    found = {c.code: c for c in session.scalars(query)}
    current = max((found[c] for c in codes if c in found), key=lambda c: c.opens_on, default=None)
    if current is None:
        return table
    earlier = [c for c in found.values() if c.opens_on < current.opens_on]
    previous = max(earlier, key=lambda c: c.opens_on, default=None)
    now = _cumulated(current, figures)
    before: list[int] = []
    if previous is not None:
        label = f"{previous.opens_on.year:04d}"
        before = _cumulated(previous, read_figures(session, label, [mutual_id]))
    table.header = ["day", current.code, previous.code if previous else "previous"]
    for i in range(max(len(now), len(before))):
        table.rows.append(
            [i, now[i] if i < len(now) else None, before[i] if i < len(before) else None]
        )
    return table


def _cumulated(found: Campaign, figures: Sequence[Figure]) -> list[int]:
    prefix = f"{found.code}:"
    per_day = {
        dt.date.fromisoformat(f.key.removeprefix(prefix)): f.numerator
        for f in figures
        if f.code == "CAMP_AMOUNT" and f.key.startswith(prefix)
    }
    days = (found.closes_on - found.opens_on).days + 1
    total, points = 0, []
    for i in range(days):
        total += per_day.get(found.opens_on + dt.timedelta(days=i), 0)
        points.append(total)
    return points
