"""M.5 target populations: a manager enters a section's population for a year (D22); the
mutual's figures of that year are marked for recomputation in the same transaction."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import IndicatorTarget, Mutual
from gateway.services.indicators.dirty import mark_dirty
from gateway.services.indicators.read import IndicatorError, find_section

MIN_YEAR, MAX_YEAR = 1990, 2100


def set_target(
    session: Session, mutual: Mutual, section: str, year: int, population: int, now: dt.datetime
) -> tuple[IndicatorTarget, int | None]:
    """Create or change the target; returns it and the population it replaced (None: new)."""
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise IndicatorError(f"year {year} must be between {MIN_YEAR} and {MAX_YEAR}")
    if population <= 0:
        raise IndicatorError(f"population {population} must be a positive whole number")
    found = find_section(session, mutual, section)
    target = session.scalar(
        select(IndicatorTarget).where(
            IndicatorTarget.mutual_id == mutual.id,
            IndicatorTarget.section_id == found.id,
            IndicatorTarget.year == year,
        )
    )
    before = None if target is None else target.population
    if target is None:
        target = IndicatorTarget(mutual_id=mutual.id, section_id=found.id, year=year)
        session.add(target)
    target.population = population
    target.updated_at = now
    mark_dirty(session, mutual.id, dt.date(year, 1, 1), now)
    session.flush()
    return target, before


def targets_of(session: Session, mutual_id: int) -> list[IndicatorTarget]:
    query = select(IndicatorTarget).where(IndicatorTarget.mutual_id == mutual_id)
    return list(
        session.scalars(query.order_by(IndicatorTarget.year.desc(), IndicatorTarget.section_id))
    )
