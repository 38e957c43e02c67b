"""Members import (interfaces.md, Files: Members): every row is checked before anything is
written, then households, beneficiaries and phones are upserted in bulk by their numbers.

Sized for a whole register (100 000 beneficiaries in seconds): rows are checked one by one
(`members_rows`), then across the file here, and written in chunks (`members_upsert`)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from gateway.clock import Clock, local_date
from gateway.lib.csv_rows import FirstLines, ImportErrors, Problems, Source, iter_rows
from gateway.lib.phones import digits_of
from gateway.models import Mutual
from gateway.services.coverage import allocate, households_to_allocate
from gateway.services.members.rows import HOME_COLUMNS, MemberRow, MutualContext, parse_member
from gateway.services.members.upsert import Existing, UpsertPlan

__all__ = ["CHUNK", "COLUMNS", "ImportErrors", "ImportReport", "Source", "import_members"]

COLUMNS = (
    "household_number", "member_number", "full_name", "sex", "birth_date", "relationship",
    "phone", "category", "section", "language", "enrolled_on", "status", "left_on", "product",
)  # fmt: skip
CHUNK = 5_000  # rows a bulk statement


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
) -> ImportReport:
    """Check every row, then upsert by household and member number (idempotent), then apply
    at once the credit and automatic periods the changes make usable (D3, D7). `today` (default:
    the mutual's local date) is when a new or changed category takes effect; a birth or an
    enrolment after `not_after` (default: the mutual's local date) is refused.

    Members absent from the file are left alone: leaving is recorded with `status`."""
    local_today = local_date(Clock().now(), mutual.timezone)
    today = today or local_today
    session.flush()
    ctx = MutualContext(session, mutual, not_after or local_today)
    existing = Existing.load(session, mutual.id)
    problems = Problems()
    rows: list[MemberRow] = []
    tainted: set[str] = set()
    seen = FirstLines()
    for line, cells in iter_rows(source, COLUMNS):
        seen.check(line, "member_number", cells["member_number"], problems)
        row = parse_member(line, cells, ctx, problems)
        if row is None:
            tainted.add(cells["household_number"])
        else:
            rows.append(row)
    warnings = _check_file(rows, existing, tainted, set(seen), problems)
    problems.raise_if_any()
    plan = UpsertPlan.make(rows, existing, mutual.id, today)
    report = ImportReport(**plan.counts(), warnings=warnings, dry_run=dry_run)
    if not dry_run:
        plan.execute(session, CHUNK)
        report.allocations = _allocate_touched(session, mutual, plan, today)
    return report


def _allocate_touched(session: Session, mutual: Mutual, plan: UpsertPlan, today: dt.date) -> int:
    """D7: credit applied as soon as it can be (a beneficiary gone, a category changed...),
    not at the next daily job; only households holding credit or with a 0-share category."""
    touched = {plan.household_ids[number] for number in plan.touched}
    candidates = [h for h in households_to_allocate(session, mutual.id) if h.id in touched]
    return sum(len(allocate(session, household, on=today)) for household in candidates)


def _check_file(
    rows: list[MemberRow], ex: Existing, tainted: set[str], listed: set[str], problems: Problems
) -> list[str]:
    """Rules across rows: one head per household, no member taken from another household, no
    number that is another record's. Returns the warnings."""
    heads: dict[str, list[MemberRow]] = defaultdict(list)
    first: dict[str, int] = {}
    for row in rows:
        first.setdefault(row.household, row.line)
        if row.ben["relation"] == "head":
            heads[row.household].append(row)
        if (old := ex.beneficiaries.get(row.number)) is not None:
            other = ex.numbers[old["household_id"]]
            if other != row.household:
                problems.add(row.line, "member_number", f"{row.number!r} is in household {other!r}")
    old_heads = ex.heads()
    for household, line in first.items():
        found = heads.get(household, [])
        if not found and household not in tainted:
            problems.add(line, "relationship", f"household {household!r} has no head")
        for extra in found[1:]:
            problems.add(extra.line, "relationship", f"second head (first on line {found[0].line})")
        head = old_heads.get(household)
        if found and head and head not in listed:
            reason = f"the household already has head {head!r}: list that member too"
            problems.add(found[0].line, "relationship", reason)
    _number_clashes(rows, ex, problems)
    warnings = Problems(_ignored_values(rows, heads) + _digit_collisions(rows, ex))
    return warnings.by_line()


def _number_clashes(rows: list[MemberRow], ex: Existing, problems: Problems) -> None:
    """ussd.md, issue 14: a number answers for one record. A member number may not be
    another household's number, nor a household number another household's member's; only
    the head may carry its own household's number (lookup.find_number answers for the head)."""
    lines: dict[str, int] = {}  # household number -> its first line in the file
    members: dict[str, tuple[str, int | None]] = {
        n: (ex.numbers[b["household_id"]], None) for n, b in ex.beneficiaries.items()
    }
    for row in rows:
        lines.setdefault(row.household, row.line)
        members[row.number] = (row.household, row.line)
    for number, line in lines.items():
        owner = members.get(number)
        if owner is not None and owner[0] != number:
            reason = f"{number!r} is the number of member {number!r} of household {owner[0]!r}"
            problems.add(line, "household_number", reason + _where(owner[1]))
    for row in rows:
        number = row.number
        if number == row.household and row.ben["relation"] != "head":
            reason = f"{number!r} is its household's own number: only the head may carry it"
            problems.add(row.line, "member_number", reason)
        elif (number in lines or number in ex.households) and number != row.household:
            reason = f"{number!r} is the number of household {number!r}"
            problems.add(row.line, "member_number", reason + _where(lines.get(number)))


def _where(line: int | None) -> str:
    return f" (line {line})" if line is not None else " (already registered)"


def _ignored_values(rows: list[MemberRow], heads: dict[str, list[MemberRow]]) -> list[str]:
    warnings = Problems()
    for row in rows:
        head = heads[row.household][0] if heads.get(row.household) else row
        for column, mine, theirs in zip(HOME_COLUMNS, row.raw_home, head.raw_home, strict=True):
            if mine and mine != theirs:
                warnings.add(
                    row.line,
                    column,
                    f"ignored, the household's value is on its head's line {head.line}",
                )
    return warnings


def _digit_collisions(rows: list[MemberRow], ex: Existing) -> list[str]:
    """ussd.md: numbers are typed as digits, so two numbers with the same digits are ambiguous."""
    owners: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for number, household in ex.households.items():
        owners[household["digits"]].add(("household", number))
    for number, ben in ex.beneficiaries.items():
        if number != ex.numbers[ben["household_id"]]:  # a head with its household's number
            owners[ben["digits"]].add(("member", number))
    where: dict[tuple[str, str], tuple[int, str]] = {}
    for row in rows:
        for kind, number, column in (
            ("household", row.household, "household_number"),
            ("member", row.number, "member_number"),
        ):
            if kind == "member" and number == row.household:
                continue  # one person and its household: lookup.find_number answers the head
            owners[digits_of(number)].add((kind, number))
            where.setdefault((kind, number), (row.line, column))
    warnings = Problems()
    for digits, names in owners.items():
        for name in sorted(names) if len(names) > 1 else ():
            if name in where:
                others = ", ".join(f"{kind} {number!r}" for kind, number in sorted(names - {name}))
                warnings.add(*where[name], f"same digits {digits} as {others}")
    return warnings
