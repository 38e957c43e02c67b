"""Paid-up share, recovery of member and funders' shares (M.6, M.6F) and retention (M.2),
per section, from one grouped read per coverage period (D22).

A reporting period P is "for" the coverage period of each product that holds P's last day
(so the months of a yearly product show that year's collection so far). Its beneficiaries are
those active on the coverage period's last day (today, while it runs); each owes the product's
contribution split by the household's category (D3: member share rounded up, the funder the
rest). Collected = live allocations (not reversed, D7b) of those beneficiaries for that
coverage period, whenever made: a late payment changes the past period. A household is paid
up when every such beneficiary has one. M.2 compares the coverage period with the one before
it: households paid for both / households paid for the previous one (by the latter's section)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, case, exists, func, literal, null, or_, select, union_all
from sqlalchemy.orm import Session

from gateway.models import (
    Allocation,
    AllocationReversal,
    Beneficiary,
    CoveragePeriod,
    Funder,
    Household,
    Product,
    Subsidy,
)
from gateway.services.indicators.figures import Figures
from gateway.services.indicators.periods import Period

GONE = ("removed", "deceased")
Group = tuple[int, int | None]
DAY = dt.timedelta(days=1)


@dataclass(frozen=True, order=True)
class Span:
    start: dt.date
    end: dt.date


@dataclass
class SpanTotals:
    """One coverage span's figures per (mutual, section): households, paid, member shares due
    and collected, funders' shares due and collected; per funder; and M.2 (kept, paid before)."""

    sums: dict[Group, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0] * 6))
    funders: dict[tuple[int, int | None, str], list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0])
    )
    kept: dict[Group, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))


def coverage_spans(
    session: Session, mutual_ids: Sequence[int], today: dt.date
) -> tuple[dict[Span, list[int]], dict[int, int]]:
    """The coverage periods begun by today grouped by their dates (products that share a
    calendar are read together), and each one's next period of the same product."""
    query = (
        select(
            CoveragePeriod.id,
            CoveragePeriod.product_id,
            CoveragePeriod.starts_on,
            CoveragePeriod.ends_on,
        )
        .join(Product, Product.id == CoveragePeriod.product_id)
        .where(Product.mutual_id.in_(mutual_ids), CoveragePeriod.starts_on <= today)
    )
    found: dict[Span, list[int]] = defaultdict(list)
    starts: dict[tuple[int, dt.date], int] = {}
    ends: dict[int, tuple[int, dt.date]] = {}
    for period_id, product_id, starts_on, ends_on in session.execute(query):
        found[Span(starts_on, ends_on)].append(period_id)
        starts[(product_id, starts_on)] = period_id
        ends[period_id] = (product_id, ends_on + DAY)
    following = {p: starts[key] for p, key in ends.items() if key in starts}
    return dict(found), following


def _per_household(
    mutual_ids: Sequence[int], period_ids: list[int], following: dict[int, int], today: dt.date
) -> Any:
    """A row per household and coverage period: beneficiaries due and paid, amounts due and
    collected, paid up or not, and the next coverage period (for M.2)."""
    live = (
        select(
            Allocation.beneficiary_id.label("beneficiary_id"),
            Allocation.period_id.label("period_id"),
            func.sum(Allocation.member_amount).label("member"),
            func.sum(Allocation.funder_amount).label("funder"),
        )
        .where(
            Allocation.mutual_id.in_(mutual_ids),
            Allocation.period_id.in_(period_ids),
            Allocation.kind == "contribution",
            ~exists().where(AllocationReversal.allocation_id == Allocation.id),
        )
        .group_by(Allocation.beneficiary_id, Allocation.period_id)
        .subquery()
    )
    pct = func.coalesce(Subsidy.member_share, 100)
    member_due = (Product.contribution * pct + 99) // 100
    ref = case((CoveragePeriod.ends_on < today, CoveragePeriod.ends_on), else_=today)
    active = and_(
        Beneficiary.enrolled_on <= ref,
        or_(Beneficiary.status.not_in(GONE), Beneficiary.left_on >= ref),
    )
    nxt = case(following, value=CoveragePeriod.id, else_=None) if following else null()
    paid = case((func.count(live.c.beneficiary_id) >= func.count(Beneficiary.id), 1), else_=0)
    return (
        select(
            Household.id.label("household_id"),
            CoveragePeriod.id.label("period_id"),
            nxt.label("next_id"),
            Household.mutual_id.label("mutual_id"),
            Household.section_id.label("section_id"),
            Funder.code.label("funder"),
            paid.label("paid"),
            func.sum(member_due).label("due_m"),
            func.sum(Product.contribution - member_due).label("due_f"),
            func.coalesce(func.sum(live.c.member), 0).label("got_m"),
            func.coalesce(func.sum(live.c.funder), 0).label("got_f"),
        )
        .select_from(Beneficiary)
        .join(Household, Household.id == Beneficiary.household_id)
        .join(Product, Product.id == Household.product_id)
        .join(CoveragePeriod, CoveragePeriod.product_id == Product.id)
        .outerjoin(
            Subsidy,
            and_(Subsidy.product_id == Product.id, Subsidy.category == Household.category),
        )
        .outerjoin(Funder, Funder.id == Subsidy.funder_id)
        .outerjoin(
            live,
            and_(live.c.beneficiary_id == Beneficiary.id, live.c.period_id == CoveragePeriod.id),
        )
        .where(Beneficiary.mutual_id.in_(mutual_ids), CoveragePeriod.id.in_(period_ids), active)
        .group_by(
            Household.id, CoveragePeriod.id, Household.mutual_id, Household.section_id, Funder.code
        )
        .cte("per_household")
    )


def _households(
    session: Session,
    mutual_ids: Sequence[int],
    spans: dict[Span, list[int]],
    following: dict[int, int],
    today: dt.date,
) -> dict[Span, SpanTotals]:
    """Every span's figures from ONE statement: the per-household rows (computed once, a
    CTE) summed per period, section and funder, and joined to themselves for M.2."""
    period_ids = [i for ids in spans.values() for i in ids]
    span_of = {i: span for span, ids in spans.items() for i in ids}
    hp = _per_household(mutual_ids, period_ids, following, today)
    sums = select(
        literal("S").label("part"),
        hp.c.period_id,
        hp.c.mutual_id,
        hp.c.section_id,
        hp.c.funder,
        func.count().label("n"),
        func.sum(hp.c.paid).label("a"),
        func.sum(hp.c.due_m).label("b"),
        func.sum(hp.c.got_m).label("c"),
        func.sum(hp.c.due_f).label("d"),
        func.sum(hp.c.got_f).label("e"),
    ).group_by(hp.c.period_id, hp.c.mutual_id, hp.c.section_id, hp.c.funder)
    before, now = hp.alias("before"), hp.alias("now")
    kept = (
        select(
            literal("R"),
            before.c.next_id,
            before.c.mutual_id,
            before.c.section_id,
            null(),
            func.count(),
            func.sum(func.coalesce(now.c.paid, 0)),
            null(),
            null(),
            null(),
            null(),
        )
        .select_from(before)
        .outerjoin(
            now,
            and_(
                now.c.household_id == before.c.household_id,
                now.c.period_id == before.c.next_id,
            ),
        )
        .where(before.c.paid == 1, before.c.next_id.is_not(None))
        .group_by(before.c.next_id, before.c.mutual_id, before.c.section_id)
    )
    totals = {span: SpanTotals() for span in spans}
    for part, period_id, mutual_id, section_id, funder, n, *amounts in session.execute(
        union_all(sums, kept)
    ):
        if period_id not in span_of:
            continue
        found = totals[span_of[period_id]]
        if part == "R":
            cell = found.kept[(mutual_id, section_id)]
            cell[0] += int(amounts[0] or 0)
            cell[1] += int(n)
            continue
        paid, due_m, got_m, due_f, got_f = (int(a or 0) for a in amounts)
        row = found.sums[(mutual_id, section_id)]
        for i, amount in enumerate((n, paid, due_m, got_m, due_f, got_f)):
            row[i] += int(amount)
        if funder is not None and (due_f or got_f):
            funded = found.funders[(mutual_id, section_id, funder)]
            funded[0] += got_f
            funded[1] += due_f
    return totals


def wanted_spans(
    session: Session, mutual_ids: Sequence[int], periods: Sequence[Period], today: dt.date
) -> tuple[dict[Span, list[int]], dict[int, int]]:
    """The coverage spans holding a reporting period's last day, and the spans just before
    them (M.2), with their coverage periods; and each coverage period's next one."""
    spans, following = coverage_spans(session, mutual_ids, today)
    wanted = {s for s in spans for p in periods if s.start <= p.end <= s.end}
    wanted |= {s for s in spans for w in set(wanted) if s.end == w.start - DAY}
    return {s: spans[s] for s in wanted}, following


def share_figures(
    session: Session,
    mutual_ids: Sequence[int],
    periods: Sequence[Period],
    today: dt.date,
    out: Figures,
) -> None:
    wanted, following = wanted_spans(session, mutual_ids, periods, today)
    if not wanted:
        return
    totals = _households(session, mutual_ids, wanted, following, today)
    for period in periods:
        for span, found in totals.items():
            if span.start <= period.end <= span.end:
                _add(out, period.label, found)


def _add(out: Figures, label: str, found: SpanTotals) -> None:
    for (mutual_id, section_id), (hh, paid, due_m, got_m, due_f, got_f) in found.sums.items():
        out.add(mutual_id, section_id, label, "PAID_UP", paid, hh)
        out.add(mutual_id, section_id, label, "M.6", got_m, due_m)
        out.add(mutual_id, section_id, label, "M.6F", got_f, due_f)
    for (mutual_id, section_id, funder), (got, due) in found.funders.items():
        out.add(mutual_id, section_id, label, "FUNDER_SHARE", got, due, key=funder)
    for (mutual_id, section_id), (num, den) in found.kept.items():
        out.add(mutual_id, section_id, label, "M.2", num, den)
