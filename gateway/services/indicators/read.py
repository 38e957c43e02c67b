"""Reading stored indicators for a mutual, one of its sections, a union or the deployment:
one GROUP BY over the `indicators` rows, numerators and denominators summed so that roll-ups
stay exact (D22). Nothing is computed here: what the job stored is what is shown."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, select, true
from sqlalchemy.orm import Session

from gateway.models import Indicator, Mutual, Section, Union
from gateway.services.indicators.codes import CODES, Kind, kind_of, value

ORDER = {code: i for i, code in enumerate(CODES)}


class IndicatorError(ValueError):
    """A mutual, union or section that does not exist (the message says which)."""


@dataclass(frozen=True)
class Figure:
    code: str
    key: str
    numerator: int
    denominator: int

    @property
    def value(self) -> float | None:
        return value(self.code, self.numerator, self.denominator)

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"code": self.code}
        if self.key:
            found["key"] = self.key
        found.update(numerator=self.numerator, denominator=self.denominator, value=self.value)
        return found


def read_figures(
    session: Session,
    period: str,
    mutual_ids: Sequence[int] | None = None,
    section_id: int | None = None,
    where: ColumnElement[bool] | None = None,
) -> list[Figure]:
    """The figures of the mutuals (None: all) or one section, for one period label."""
    query = (
        select(
            Indicator.code,
            Indicator.key,
            func.sum(Indicator.numerator),
            func.sum(Indicator.denominator),
        )
        .where(Indicator.period == period, where if where is not None else true())
        .group_by(Indicator.code, Indicator.key)
    )
    if mutual_ids is not None:
        query = query.where(Indicator.mutual_id.in_(mutual_ids))
    if section_id is not None:
        query = query.where(Indicator.section_id == section_id)
    found = [
        Figure(code, key, int(num), 1 if kind_of(code) is Kind.COUNT else int(den))
        for code, key, num, den in session.execute(query)
    ]
    return sorted(found, key=lambda f: (ORDER.get(f.code, len(ORDER)), f.key))


def computed_at(
    session: Session, mutual_ids: Sequence[int] | None, period: str
) -> dt.datetime | None:
    query = select(func.max(Indicator.computed_at)).where(Indicator.period == period)
    if mutual_ids is not None:
        query = query.where(Indicator.mutual_id.in_(mutual_ids))
    return session.scalar(query)


def find_mutual(session: Session, code: str) -> Mutual:
    found = session.scalar(select(Mutual).where(Mutual.code == code))
    if found is None:
        raise IndicatorError(f"no mutual with code {code!r}")
    return found


def find_section(session: Session, mutual: Mutual, name: str) -> Section:
    found = session.scalar(
        select(Section).where(Section.mutual_id == mutual.id, Section.name == name)
    )
    if found is None:
        names = ", ".join(s.name for s in mutual.sections) or "none"
        raise IndicatorError(f"mutual {mutual.code} has no section {name!r} (sections: {names})")
    return found


def union_mutuals(session: Session, code: str) -> list[int]:
    union = session.scalar(select(Union).where(Union.code == code))
    if union is None:
        raise IndicatorError(f"no union with code {code!r}")
    return list(session.scalars(select(Mutual.id).where(Mutual.union_id == union.id)))


def read_by_section(
    session: Session,
    period: str,
    codes: Sequence[str],
    mutual_ids: Sequence[int] | None = None,
    where: ColumnElement[bool] | None = None,
) -> dict[tuple[int, int | None], dict[str, Figure]]:
    """The codes' figures per (mutual, section) for one period (the console's charts)."""
    query = (
        select(
            Indicator.mutual_id,
            Indicator.section_id,
            Indicator.code,
            func.sum(Indicator.numerator),
            func.sum(Indicator.denominator),
        )
        .where(
            Indicator.period == period,
            Indicator.code.in_(codes),
            Indicator.key == "",
            where if where is not None else true(),
        )
        .group_by(Indicator.mutual_id, Indicator.section_id, Indicator.code)
    )
    if mutual_ids is not None:
        query = query.where(Indicator.mutual_id.in_(mutual_ids))
    found: dict[tuple[int, int | None], dict[str, Figure]] = {}
    for mutual_id, section_id, code, num, den in session.execute(query):
        found.setdefault((mutual_id, section_id), {})[code] = Figure(code, "", int(num), int(den))
    return found
