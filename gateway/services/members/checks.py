"""The members import's rules across rows (interfaces.md, Files: Members; ussd.md; issues 14
and 15), run as SQL over the staging table and the mutual's register, so that neither the file
nor the register is ever held in Python: one head per household (counting the register), no
member taken from another household, no number that is another record's, and the warnings
(values ignored on a dependant's line, numbers with the same digits).

Each rule is one query whose rows are problems (`lib.staging.Checker`: read with a cap, in line
order, the rest counted). Within a line, problems
keep the order the rules had when they were checked in Python: duplicate number, the row's own
cells, then the rules below in order."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from gateway.lib.csv_rows import Problems
from gateway.lib.staging import Checker, Rule
from gateway.services.members.rows import HOME_COLUMNS

S = "members_import_rows"
# The file's households (lines without a problem), with the first line each is on.
FIRST = f"(SELECT household, MIN(line) AS first FROM {S} WHERE ok GROUP BY household)"
HEADS = f"(SELECT household, MIN(line) AS first FROM {S} WHERE ok AND is_head GROUP BY household)"
# A registered member, with the number of its household.
# (driven by the beneficiaries' digits index, not by a scan of the households)
HOUSEHOLD_OF_B = "(SELECT e.number FROM households e WHERE e.id = b.household_id)"
JOIN_REGISTERED = (
    "JOIN (beneficiaries b JOIN households e ON e.id = b.household_id) ON b.mutual_id = :m"
)


def _where(line: int | None) -> str:
    return f" (line {line})" if line is not None else " (already registered)"


DUPLICATE = Rule(
    f"SELECT s.line, 0 AS sub, s.number, f.first FROM {S} s "
    f"JOIN (SELECT number, MIN(line) AS first FROM {S} GROUP BY number) f "
    "ON f.number = s.number WHERE s.line > f.first",
    lambda r: ("member_number", f"{r.number!r} already on line {r.first}"),
)
ERRORS = (
    Rule(  # a member listed under another household than its registered one
        f"SELECT s.line, 0 AS sub, s.number, e.number AS other FROM {S} s "
        f"{JOIN_REGISTERED} AND b.number = s.number WHERE s.ok AND e.number <> s.household",
        lambda r: ("member_number", f"{r.number!r} is in household {r.other!r}"),
    ),
    Rule(  # a household without a head (unless one of its lines has a problem)
        f"SELECT MIN(s.line) AS line, 0 AS sub, s.household FROM {S} s WHERE s.ok "
        "GROUP BY s.household HAVING SUM(CASE WHEN s.is_head THEN 1 ELSE 0 END) = 0 "
        f"AND NOT EXISTS (SELECT 1 FROM {S} t WHERE NOT t.ok AND t.household = s.household)",
        lambda r: ("relationship", f"household {r.household!r} has no head"),
    ),
    Rule(
        f"SELECT s.line, 0 AS sub, f.first FROM {S} s JOIN {HEADS} f ON f.household = s.household "
        "WHERE s.ok AND s.is_head AND s.line > f.first",
        lambda r: ("relationship", f"second head (first on line {r.first})"),
    ),
    Rule(  # the registered head, still a member, must be listed too
        f"SELECT f.first AS line, 0 AS sub, MIN(b.number) AS head FROM {HEADS} f "
        "JOIN households e ON e.mutual_id = :m AND e.number = f.household "
        "JOIN beneficiaries b ON b.household_id = e.id AND b.relationship = 'head' "
        "AND b.status IN ('active', 'suspended') "
        f"WHERE NOT EXISTS (SELECT 1 FROM {S} t WHERE t.number = b.number) GROUP BY f.first",
        lambda r: (
            "relationship",
            f"the household already has head {r.head!r}: list that member too",
        ),
    ),
    Rule(  # issue 14: a household number that is another household's member's number
        f"SELECT f.first AS line, 0 AS sub, f.household AS number, o.household AS owner, "
        f"o.line AS at FROM {FIRST} f JOIN {S} o ON o.ok AND o.number = f.household "
        "WHERE o.household <> f.household AND o.line = "
        f"(SELECT MAX(x.line) FROM {S} x WHERE x.ok AND x.number = f.household) "
        "UNION ALL "
        "SELECT f.first, 0, f.household, e.number, NULL "
        f"FROM {FIRST} f {JOIN_REGISTERED} AND b.number = f.household "
        f"WHERE e.number <> f.household AND NOT EXISTS "
        f"(SELECT 1 FROM {S} x WHERE x.ok AND x.number = f.household)",
        lambda r: (
            "household_number",
            f"{r.number!r} is the number of member {r.number!r} of household {r.owner!r}"
            + _where(r.at),
        ),
    ),
    Rule(  # issue 14: only the head may carry its household's number; no member a household's
        f"SELECT line, 0 AS sub, number, NULL AS at, 1 AS own FROM {S} "
        "WHERE ok AND number = household AND NOT is_head "
        "UNION ALL "
        f"SELECT s.line, 0, s.number, f.first, 0 FROM {S} s JOIN {FIRST} f "
        "ON f.household = s.number WHERE s.ok AND s.number <> s.household "
        "UNION ALL "
        f"SELECT s.line, 0, s.number, NULL, 0 FROM {S} s "
        "JOIN households e ON e.mutual_id = :m AND e.number = s.number "
        "WHERE s.ok AND s.number <> s.household "
        f"AND NOT EXISTS (SELECT 1 FROM {S} x WHERE x.ok AND x.household = s.number)",
        lambda r: (
            "member_number",
            f"{r.number!r} is its household's own number: only the head may carry it"
            if r.own
            else f"{r.number!r} is the number of household {r.number!r}" + _where(r.at),
        ),
    ),
)


def _ignored(i: int, column: str) -> Rule:
    raw = f"raw_{column}"
    return Rule(
        f"SELECT r.line, {i} AS sub, h.line AS head FROM {S} r "
        f"JOIN {S} h ON h.ok AND h.is_head AND h.household = r.household "
        f"WHERE r.ok AND r.line <> h.line AND r.{raw} <> '' AND r.{raw} <> h.{raw}",
        lambda r: (column, f"ignored, the household's value is on its head's line {r.head}"),
    )


# ussd.md: numbers are typed as digits; the file's households and members (a head carrying its
# household's number is one record) against every other number of the file or the register.
_OTHER_HOUSEHOLD = (
    f"EXISTS (SELECT 1 FROM {S} o WHERE o.ok AND o.h_digits = {{d}} AND o.household <> {{n}}) "
    "OR EXISTS (SELECT 1 FROM households e WHERE e.mutual_id = :m AND e.digits = {d} "
    "AND e.number <> {n})"
)
_OTHER_MEMBER = (
    f"EXISTS (SELECT 1 FROM {S} o WHERE o.ok AND o.m_digits = {{d}} "
    "AND o.number <> o.household AND o.number <> {n}) "
    "OR EXISTS (SELECT 1 FROM beneficiaries b WHERE b.mutual_id = :m AND b.digits = {d} "
    f"AND b.number <> {{n}} AND b.number <> {HOUSEHOLD_OF_B})"
)
_ANY_HOUSEHOLD = _OTHER_HOUSEHOLD.format(d="{d}", n="''")  # no household is numbered ''
_ANY_MEMBER = _OTHER_MEMBER.format(d="{d}", n="''")
SAME_DIGITS = (
    Rule(
        "SELECT f.line, 0 AS sub, f.number, f.digits, 'household' AS kind FROM "
        f"(SELECT household AS number, h_digits AS digits, MIN(line) AS line FROM {S} WHERE ok "
        "GROUP BY household, h_digits) f WHERE "
        + _OTHER_HOUSEHOLD.format(d="f.digits", n="f.number")
        + " OR "
        + _ANY_MEMBER.format(d="f.digits"),
        lambda r: ("household_number", ""),
    ),
    Rule(
        f"SELECT s.line, 1 AS sub, s.number, s.m_digits AS digits, 'member' AS kind FROM {S} s "
        "WHERE s.ok AND s.number <> s.household AND ("
        + _OTHER_MEMBER.format(d="s.m_digits", n="s.number")
        + " OR "
        + _ANY_HOUSEHOLD.format(d="s.m_digits")
        + ")",
        lambda r: ("member_number", ""),
    ),
)
_NAMES = (
    f"SELECT 'household' AS kind, household AS number FROM {S} WHERE ok AND h_digits = :d "
    f"UNION SELECT 'member', number FROM {S} WHERE ok AND m_digits = :d AND number <> household "
    "UNION SELECT 'household', number FROM households WHERE mutual_id = :m AND digits = :d "
    "UNION SELECT 'member', b.number FROM beneficiaries b WHERE b.mutual_id = :m "
    f"AND b.digits = :d AND b.number <> {HOUSEHOLD_OF_B}"
)


def check_file(session: Session, mutual_id: int, row_problems: Problems, cap: int) -> None:
    """Raise ImportErrors with the row problems and the cross-row ones, in line order."""
    checker = Checker(session, {"m": mutual_id}, cap)
    checker.run(0, DUPLICATE)
    checker.add_problems(1, row_problems)
    for phase, rule in enumerate(ERRORS, start=2):
        checker.run(phase, rule)
    checker.raise_if_any()


def warnings(session: Session, mutual_id: int, cap: int) -> list[str]:
    """Values ignored on a dependant's line, then numbers with the same digits (a file
    without problems: one head per household, numbers unique)."""
    checker = Checker(session, {"m": mutual_id}, cap)
    for i, column in enumerate(HOME_COLUMNS):
        checker.run(0, _ignored(i, column))
    for rule in SAME_DIGITS:
        for row in checker.run(1, rule, listed=False):  # their text needs a query each
            others = _others(session, mutual_id, row.digits, (row.kind, row.number))
            column = "household_number" if row.kind == "household" else "member_number"
            message = f"line {row.line}: {column}: same digits {row.digits} as {others}"
            checker.add(1, row.line, row.sub, message)
    return checker.listed()


def _others(session: Session, mutual_id: int, digits: str, name: tuple[str, str]) -> str:
    params = {"m": mutual_id, "d": digits}
    names = {(kind, number) for kind, number in session.execute(text(_NAMES), params)}
    return ", ".join(f"{kind} {number!r}" for kind, number in sorted(names - {name}))
