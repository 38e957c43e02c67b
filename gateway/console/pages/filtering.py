"""The filters the operations pages share (console.md, issue 16): mutual, section, a date
window (from/to, UTC days; by default the last `default` span up to now), a status and an
"errors only" switch. Read from the query string; `args()` gives them back for the next
page's link. The choices offered are the mutuals and sections inside the operator's scope;
a mutual or section typed by hand outside it matches nothing, since every query stays
`scoped` (D27)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVarTuple

from flask import abort, request
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from gateway.console.views import scoped
from gateway.models import Household, Mutual, Section

Ts = TypeVarTuple("Ts")
CHOICES_LIMIT = 500  # mutuals/sections of a scope: a union's few dozen; bounded all the same
MAX_ID = 2**31 - 1  # integer ids: a longer number typed by hand is refused, not sent to SQL


@dataclass(frozen=True)
class Filters:
    mutual_id: int | None
    section_id: int | None
    start: dt.datetime
    end: dt.datetime
    status: str
    errors: bool
    typed: dict[str, str]  # what the operator typed, for the form and the next page's link

    def args(self) -> dict[str, str]:
        return {key: value for key, value in self.typed.items() if value}

    def mutual(self, query: Select[*Ts], model: type[Any]) -> Select[*Ts]:
        """Keep `model`'s rows of the chosen mutual (its `mutual_id`)."""
        if self.mutual_id is None:
            return query
        return query.where(model.mutual_id == self.mutual_id)

    def section(self, query: Select[*Ts], model: type[Any]) -> Select[*Ts]:
        """Keep `model`'s rows whose household is in the chosen section."""
        if self.section_id is None:
            return query
        households = select(Household.id).where(Household.section_id == self.section_id)
        return query.where(model.household_id.in_(households))

    def window(self, query: Select[*Ts], column: Any) -> Select[*Ts]:
        return query.where(column >= self.start, column < self.end)


def read_filters(now: dt.datetime, default: dt.timedelta, statuses: tuple[str, ...]) -> Filters:
    """The request's filters; a malformed one answers 400 (a hand-edited URL)."""
    args = request.args
    typed = {k: args.get(k, "").strip() for k in ("mutual", "section", "from", "to", "status")}
    typed["errors"] = "1" if args.get("errors") else ""
    status = typed["status"]
    if status and status not in statuses:
        abort(400, f"status must be one of {', '.join(statuses)}")
    start = _day(typed["from"]) or now - default
    end = _day(typed["to"])
    return Filters(
        mutual_id=_number(typed["mutual"]),
        section_id=_number(typed["section"]),
        start=start,
        end=end + dt.timedelta(days=1) if end else now + dt.timedelta(seconds=1),
        status=status,
        errors=bool(typed["errors"]),
        typed=typed,
    )


def _number(raw: str) -> int | None:
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_ID:
        abort(400, "a filter id must be a number")
    return int(raw)


def _day(raw: str) -> dt.datetime | None:
    if not raw:
        return None
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        abort(400, "dates are YYYY-MM-DD")
    if not dt.date(2000, 1, 1) <= day <= dt.date(2999, 12, 31):
        abort(400, "dates are between 2000 and 2999")
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def choices(session: Session, filters: Filters | None = None) -> dict[str, list[tuple[int, str]]]:
    """The mutuals and sections the operator may filter on (inside their scope). Sections are
    those of one mutual: the chosen one, else the scope's only one, else the chosen section's;
    none until a mutual is chosen for a scope of several (a national deployment has thousands
    of sections: listing them all was a query and most of an admin's page, issue 16)."""
    mutuals = session.execute(
        scoped(select(Mutual.id, Mutual.code), Mutual).order_by(Mutual.code).limit(CHOICES_LIMIT)
    ).all()
    codes = {row_id: code for row_id, code in mutuals}
    focus: Any = None
    if filters is not None and filters.mutual_id is not None:
        focus = filters.mutual_id
    elif len(mutuals) == 1:
        focus = mutuals[0][0]
    elif filters is not None and filters.section_id is not None:
        focus = select(Section.mutual_id).where(Section.id == filters.section_id).scalar_subquery()
    sections: Sequence[Any] = []
    if focus is not None:
        sections = session.execute(
            scoped(select(Section.id, Section.mutual_id, Section.name), Section)
            .where(Section.mutual_id == focus)
            .order_by(Section.name)
            .limit(CHOICES_LIMIT)
        ).all()
    return {
        "mutuals": [(row_id, code) for row_id, code in mutuals],
        "sections": [(sid, f"{codes.get(mid, '?')}/{name}") for sid, mid, name in sections],
    }
