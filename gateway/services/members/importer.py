"""Members import (interfaces.md, Files: Members): every row is checked before anything is
written, then households, beneficiaries and phones are upserted in bulk by their numbers.

Sized for any register in bounded memory (issue 15): rows are checked one by one as the file
is read (`members_rows`) and written `CHUNK` at a time to a staging table (`members_staging`);
the rules across rows run there in SQL (`members_checks`), and the upsert reads it back in keyed
chunks (`members_upsert`). Neither the file nor the register is held in Python."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.clock import Clock, local_date
from gateway.lib.csv_rows import MAX_PROBLEMS, ImportErrors, Problems, Source, iter_rows
from gateway.models import Allocation, Mutual
from gateway.services.coverage import allocate, households_to_allocate
from gateway.services.members import checks
from gateway.services.members.diff import EventSink
from gateway.services.members.rows import MutualContext, parse_member
from gateway.services.members.staging import TOUCHED, StageWriter, finish_loading, staged
from gateway.services.members.upsert import Upsert

__all__ = ["CHUNK", "COLUMNS", "ImportErrors", "ImportReport", "Source", "import_members"]

COLUMNS = (
    "household_number", "member_number", "full_name", "sex", "birth_date", "relationship",
    "phone", "category", "section", "language", "enrolled_on", "status", "left_on", "product",
)  # fmt: skip
CHUNK = 5_000  # rows a bulk statement
CAP = MAX_PROBLEMS  # problems (and warnings) listed; the rest are counted


@dataclass
class ImportReport:
    households_created: int = 0
    households_updated: int = 0
    households_unchanged: int = 0
    beneficiaries_created: int = 0
    beneficiaries_updated: int = 0
    beneficiaries_unchanged: int = 0
    allocations: int = 0  # shares paid at once from credit or automatically (D3, D7)
    warnings: list[str] = field(default_factory=list)
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def import_members(
    session: Session,
    mutual: Mutual,
    source: Source,
    *,
    dry_run: bool = False,
    today: dt.date | None = None,
    not_after: dt.date | None = None,
    now: dt.datetime | None = None,
    by: str = "members import",
) -> ImportReport:
    """Check every row, then upsert by household and member number (idempotent), then apply
    at once the credit and automatic periods the changes make usable (D3, D7). `today` (default:
    the mutual's local date) is when a new or changed category takes effect; a birth or an
    enrolment after `not_after` (default: the mutual's local date) is refused.

    Members absent from the file are left alone: leaving is recorded with `status`. Problems
    and warnings are listed in line order, at most `CAP` of each (the rest counted).

    D23: each change of a registered household or member is recorded as the event an operator
    would record (`members.diff`), at `now` (default: the clock's), by `by`; an event the
    register refuses is a problem of its line and nothing is imported."""
    clock_today = local_date(now or Clock().now(), mutual.timezone)
    if now is None:  # the events are recorded on the import's day (`today` when given)
        now = Clock().now()
        if today is not None and today != clock_today:
            now = dt.datetime.combine(today, dt.time(12), tzinfo=dt.UTC)
    today = today or clock_today
    session.flush()
    ctx = MutualContext(session, mutual, not_after or clock_today)
    with staged(session):
        _stage(session, source, ctx)
        warnings = checks.warnings(session, mutual.id, CAP)
        problems = Problems(cap=CAP)
        sink = None if dry_run else EventSink(session, today, now, by, problems)
        upsert = Upsert(session, mutual.id, today, CHUNK, write=not dry_run, sink=sink)
        before = _allocations(session, mutual)
        with session.begin_nested():  # a refused event undoes the writes before it
            report = ImportReport(**upsert.run(), warnings=warnings, dry_run=dry_run)
            problems.raise_if_any()
        if not dry_run:
            _allocate_touched(session, mutual, today)
            report.allocations = _allocations(session, mutual) - before
    return report


def _stage(session: Session, source: Source, ctx: MutualContext) -> None:
    """Read, check and stage every row; then the rules across rows: raise if any problem."""
    problems = Problems(cap=CAP)
    writer = StageWriter(session, CHUNK)
    for line, cells in iter_rows(source, COLUMNS):
        writer.stage(line, cells, parse_member(line, cells, ctx, problems))
    writer.flush()
    finish_loading(session)
    checks.check_file(session, ctx.mutual.id, problems, CAP)


def _allocations(session: Session, mutual: Mutual) -> int:
    """Allocation rows of the mutual: those the import's events and allocation add (D3, D7)."""
    query = select(func.count()).where(Allocation.mutual_id == mutual.id)
    return int(session.scalar(query) or 0)


def _allocate_touched(session: Session, mutual: Mutual, today: dt.date) -> int:
    """D7: credit applied as soon as it can be (a beneficiary gone, a category changed...),
    not at the next daily job; only households holding credit or with a 0-share category."""
    touched = select(TOUCHED.c.household_id)
    candidates = households_to_allocate(session, mutual.id, among=touched)
    return sum(len(allocate(session, household, on=today)) for household in candidates)
