"""Recompute the stored D22 indicators of some mutuals for every period ending on or after a
day: one set-based pass per source for all those mutuals and periods, then the periods' rows
replaced in one transaction (the caller commits). Never run on page load: by the indicators
job, on the dirty marks the payment, allocation and register writes leave (issue 17)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import cast

from sqlalchemy import Table, delete, func, insert, select, text
from sqlalchemy.orm import Session

from gateway.models import Beneficiary, Indicator, IndicatorTarget, Mutual, Payment
from gateway.services.indicators import insql
from gateway.services.indicators.campaigns import campaign_figures
from gateway.services.indicators.figures import Figures
from gateway.services.indicators.flows import OTHER_FLOWS, Labels, all_flows
from gateway.services.indicators.periods import Period, periods_between
from gateway.services.indicators.register import register_figures
from gateway.services.indicators.shares import share_figures, wanted_spans

# For the recompute's transaction only (the benchmark's baseline runs under the same).
POSTGRES_SETTINGS = (
    "SET LOCAL work_mem = '128MB'",
    "SET LOCAL jit = off",
    "SET LOCAL plan_cache_mode = force_custom_plan",
)


def earliest(session: Session, mutual_ids: Sequence[int], today: dt.date) -> dt.date:
    """The first day any of the mutuals has data for: its first enrolment or payment."""
    firsts = [
        session.scalar(
            select(func.min(Beneficiary.enrolled_on)).where(Beneficiary.mutual_id.in_(mutual_ids))
        ),
        session.scalar(select(func.min(Payment.paid_on)).where(Payment.mutual_id.in_(mutual_ids))),
    ]
    return min([d for d in firsts if d is not None], default=today)


def compute(
    session: Session, mutual_ids: Sequence[int], periods: Sequence[Period], today: dt.date
) -> Figures:
    """Every figure of the mutuals for the periods (nothing written)."""
    out = Figures()
    if not mutual_ids or not periods:
        return out
    register_figures(session, mutual_ids, periods, out)
    share_figures(session, mutual_ids, periods, today, out)
    _penetration(session, mutual_ids, periods, out)
    all_flows(session, mutual_ids, periods, out)
    campaign_figures(session, mutual_ids, Labels(periods), out)
    return out


def _penetration(
    session: Session, mutual_ids: Sequence[int], periods: Sequence[Period], out: Figures
) -> None:
    """M.5: beneficiaries at the period's end / the section's target population of its year;
    no row (not available) where no target was entered."""
    years = {p.year for p in periods}
    query = select(IndicatorTarget).where(
        IndicatorTarget.mutual_id.in_(mutual_ids), IndicatorTarget.year.in_(years)
    )
    for target in session.scalars(query):
        for period in periods:
            if period.year == target.year:
                key = (target.mutual_id, target.section_id, period.label, "BEN", "")
                ben = out[key][0] if key in out else 0
                out.add(
                    target.mutual_id,
                    target.section_id,
                    period.label,
                    "M.5",
                    ben,
                    target.population,
                )


def recompute(
    session: Session,
    mutual_ids: Sequence[int],
    since: dt.date | None,
    today: dt.date,
    now: dt.datetime,
    *,
    in_sql: bool | None = None,
) -> int:
    """Replace the rows of every period ending on or after `since` (None: the mutuals' first
    data) up to today; returns how many rows were written. The mutual rows are locked first
    (PostgreSQL) so that two runs for one mutual write one set of rows, not two.

    `in_sql` (default: on PostgreSQL) computes the register, shares, penetration and payment
    figures in the database and inserts them there (insql.py); otherwise every figure is
    computed here (`compute`) and inserted. Both write the same rows (a test compares them)."""
    ids = sorted(set(mutual_ids))
    if not ids:
        return 0
    session.execute(
        select(Mutual.id).where(Mutual.id.in_(ids)).order_by(Mutual.id).with_for_update()
    )
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        # The per-household groupings sort and hash millions of rows: memory for this
        # transaction only, instead of spilling to disk at the 4 MB default; no JIT, whose
        # compilation of these large plans costs seconds and saves nothing here; and plans
        # made for the statement's values (one mutual or all), even once prepared.
        for setting in POSTGRES_SETTINGS:
            session.execute(text(setting))
    start = since if since is not None else earliest(session, ids, today)
    periods = periods_between(min(start, today), today)
    labels = [p.label for p in periods]
    session.execute(
        delete(Indicator).where(Indicator.mutual_id.in_(ids), Indicator.period.in_(labels))
    )
    if not periods:
        return 0
    if not (postgres if in_sql is None else in_sql):
        return _insert(session, compute(session, ids, periods, today), now)
    return _in_sql(session, ids, periods, today, now)


def _in_sql(
    session: Session,
    ids: Sequence[int],
    periods: Sequence[Period],
    today: dt.date,
    now: dt.datetime,
) -> int:
    """The large figures written by PostgreSQL itself; the small flows and campaigns (a few
    rows a mutual and month) computed here as on the other path."""
    everyone = not session.scalar(select(func.count()).where(Mutual.id.not_in(ids)))
    written = insql.write_register(session, ids, periods, now, everyone)
    wanted, following = wanted_spans(session, ids, periods, today)
    coverage = {i: following.get(i) for found in wanted.values() for i in found}
    written += insql.write_shares(session, ids, periods, coverage, today, now, everyone)
    written += insql.write_payments(session, ids, periods, now, everyone)
    out = Figures()
    labels = Labels(periods)
    for figures in OTHER_FLOWS:
        figures(session, ids, labels, out)
    campaign_figures(session, ids, labels, out)
    return written + _insert(session, out, now)


def _insert(session: Session, figures: Figures, now: dt.datetime) -> int:
    rows = [
        {
            "mutual_id": mutual_id,
            "section_id": section_id,
            "period": period,
            "code": code,
            "key": key,
            "numerator": num,
            "denominator": den,
            "computed_at": now,
        }
        for (mutual_id, section_id, period, code, key), (num, den) in figures.items()
    ]
    table = insert(cast(Table, Indicator.__table__))  # not the entity: a plain executemany
    for at in range(0, len(rows), 5000):
        session.execute(table, rows[at : at + 5000])
    return len(rows)
