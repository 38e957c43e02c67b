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

from sqlalchemy import and_, exists, func, or_, select
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
    """One coverage span's figures per (mutual, section), and its paid households."""

    sums: dict[Group, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0] * 6))
    funders: dict[tuple[int, int | None, str], list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0])
    )
    paid: dict[int, Group] = field(default_factory=dict)  # household -> its (mutual, section)


def coverage_spans(
    session: Session, mutual_ids: Sequence[int], today: dt.date
) -> dict[Span, list[int]]:
    """The coverage periods begun by today, grouped by their dates (products that share a
    calendar are read together)."""
    query = (
        select(CoveragePeriod.id, CoveragePeriod.starts_on, CoveragePeriod.ends_on)
        .join(Product, Product.id == CoveragePeriod.product_id)
        .where(Product.mutual_id.in_(mutual_ids), CoveragePeriod.starts_on <= today)
    )
    found: dict[Span, list[int]] = defaultdict(list)
    for period_id, starts_on, ends_on in session.execute(query):
        found[Span(starts_on, ends_on)].append(period_id)
    return dict(found)


def _households(
    session: Session, mutual_ids: Sequence[int], period_ids: list[int], ref: dt.date
) -> SpanTotals:
    """One row per household of the span: beneficiaries due, paid, amounts due and collected."""
    live = (
        select(
            Allocation.beneficiary_id.label("beneficiary_id"),
            func.sum(Allocation.member_amount).label("member"),
            func.sum(Allocation.funder_amount).label("funder"),
        )
        .where(
            Allocation.mutual_id.in_(mutual_ids),
            Allocation.period_id.in_(period_ids),
            Allocation.kind == "contribution",
            ~exists().where(AllocationReversal.allocation_id == Allocation.id),
        )
        .group_by(Allocation.beneficiary_id)
        .subquery()
    )
    pct = func.coalesce(Subsidy.member_share, 100)
    member_due = (Product.contribution * pct + 99) // 100
    active = and_(
        Beneficiary.enrolled_on <= ref,
        or_(Beneficiary.status.not_in(GONE), Beneficiary.left_on >= ref),
    )
    query = (
        select(
            Household.id,
            Household.mutual_id,
            Household.section_id,
            Funder.code,
            func.count(Beneficiary.id),
            func.count(live.c.beneficiary_id),
            func.sum(member_due),
            func.sum(Product.contribution - member_due),
            func.coalesce(func.sum(live.c.member), 0),
            func.coalesce(func.sum(live.c.funder), 0),
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
        .outerjoin(live, live.c.beneficiary_id == Beneficiary.id)
        .where(Beneficiary.mutual_id.in_(mutual_ids), CoveragePeriod.id.in_(period_ids), active)
        .group_by(Household.id, Household.mutual_id, Household.section_id, Funder.code)
    )
    totals = SpanTotals()
    for hh, mutual_id, section_id, funder, n, n_paid, due_m, due_f, got_m, got_f in session.execute(
        query
    ):
        paid = n_paid >= n
        cell = totals.sums[(mutual_id, section_id)]
        for i, amount in enumerate((1, int(paid), due_m, got_m, due_f, got_f)):
            cell[i] += int(amount or 0)
        if funder is not None and (due_f or got_f):
            funded = totals.funders[(mutual_id, section_id, funder)]
            funded[0] += int(got_f or 0)
            funded[1] += int(due_f or 0)
        if paid:
            totals.paid[hh] = (mutual_id, section_id)
    return totals


def share_figures(
    session: Session,
    mutual_ids: Sequence[int],
    periods: Sequence[Period],
    today: dt.date,
    out: Figures,
) -> None:
    spans = coverage_spans(session, mutual_ids, today)
    wanted = {s for s in spans for p in periods if s.start <= p.end <= s.end}
    wanted |= {s for s in spans for w in set(wanted) if s.end == w.start - DAY}
    totals = {
        s: _households(session, mutual_ids, spans[s], min(s.end, today)) for s in sorted(wanted)
    }
    for period in periods:
        for span, found in totals.items():
            if span.start <= period.end <= span.end:
                previous = next((t for s, t in totals.items() if s.end == span.start - DAY), None)
                _add(out, period.label, found, previous)


def _add(out: Figures, label: str, found: SpanTotals, previous: SpanTotals | None) -> None:
    for (mutual_id, section_id), (hh, paid, due_m, got_m, due_f, got_f) in found.sums.items():
        out.add(mutual_id, section_id, label, "PAID_UP", paid, hh)
        out.add(mutual_id, section_id, label, "M.6", got_m, due_m)
        out.add(mutual_id, section_id, label, "M.6F", got_f, due_f)
    for (mutual_id, section_id, funder), (got, due) in found.funders.items():
        out.add(mutual_id, section_id, label, "FUNDER_SHARE", got, due, key=funder)
    if previous is None:
        return
    kept: dict[Group, list[int]] = defaultdict(lambda: [0, 0])
    for household_id, group in previous.paid.items():
        kept[group][0] += int(household_id in found.paid)
        kept[group][1] += 1
    for (mutual_id, section_id), (num, den) in kept.items():
        out.add(mutual_id, section_id, label, "M.2", num, den)
