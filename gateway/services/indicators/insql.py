"""The set-based path of the recompute on PostgreSQL (issue 17, acceptance 5): the register,
share, penetration and payment figures computed by PostgreSQL and written by INSERT ... SELECT,
so that no per-household or per-beneficiary row travels to Python. The rules are those of
register.py, shares.py, compute._penetration and flows.payment_figures (the path SQLite takes,
and the reference a test compares this one with, row for row, on PostgreSQL):

- register: the valid beneficiaries grouped ONCE per (household, enrolment day, leaving day)
  feed both the beneficiaries' spans and the households' (first enrolment, last leaving while
  every one has left). The count active on a day d (enrolled on or before d, not gone before d)
  is a running sum of +n at each enrolment day and -n the day after each leaving day, read at
  the periods' first and last days and the day before; departures (active on the first day,
  gone by the last) join only the spans that have a leaving day to the periods;
- shares: a row per household and coverage period (beneficiaries active on its reference day,
  those with a live allocation, what they were allocated), then the household's section,
  funder and dues joined to those rows, not to every beneficiary;
- payments: grouped per month first, then the months summed into the periods holding them.

Each statement inserts its rows into `indicators` and returns nothing to Python. `everyone`
says the mutuals are all the deployment's: the tables are then read whole (a sequential scan)
rather than through their mutual_id index, which PostgreSQL would pick for a list of ids
(plan_cache_mode is force_custom_plan for the transaction: the plan is made for the flag's
value, also when the driver has prepared the statement)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from gateway.services.indicators.periods import Period

# The periods being recomputed, as a relation: label, first and last day.
_PERIODS = """periods AS (
    SELECT label, first_day, last_day
    FROM unnest(CAST(:labels AS text[]), CAST(:firsts AS date[]), CAST(:lasts AS date[]))
        AS p(label, first_day, last_day)
)"""

_INSERT = """INSERT INTO indicators
    (mutual_id, section_id, period, code, key, numerator, denominator, computed_at)"""

# Section ids are read as coalesce(section_id, 0) (no section is 0, never an id) so that
# groups join on plain equality; written back as NULLIF(section, 0).
REGISTER = f"""{_INSERT}
WITH {_PERIODS},
homes AS MATERIALIZED (  -- kind 0: beneficiaries, 1: households (in spans)
    SELECT o.household_id, h.mutual_id, coalesce(h.section_id, 0) AS section, o.e, o.x, o.n
    FROM (
        SELECT b.household_id, b.enrolled_on AS e,
            CASE WHEN b.status IN ('removed', 'deceased') THEN b.left_on END AS x,
            count(*) AS n
        FROM beneficiaries b
        WHERE (:everyone OR b.mutual_id = ANY(:ids))
            AND NOT (b.status IN ('removed', 'deceased')
                     AND (b.left_on IS NULL OR b.left_on < b.enrolled_on))
        GROUP BY b.household_id, b.enrolled_on,
            CASE WHEN b.status IN ('removed', 'deceased') THEN b.left_on END
    ) o JOIN households h ON h.id = o.household_id
    WHERE (:everyone OR h.mutual_id = ANY(:ids))
),
spans AS MATERIALIZED (
    SELECT 0 AS kind, mutual_id, section, e, x, n FROM homes
    UNION ALL
    SELECT 1, mutual_id, section, min(e), CASE WHEN count(x) = count(*) THEN max(x) END, 1
    FROM homes GROUP BY household_id, mutual_id, section
),
leavers AS MATERIALIZED (
    SELECT kind, mutual_id, section, e, x, n FROM spans WHERE x IS NOT NULL
),
asked AS (
    SELECT g.kind, g.mutual_id, g.section, p.label, d.role, d.day
    FROM (SELECT DISTINCT kind, mutual_id, section FROM spans) g
    CROSS JOIN periods p
    CROSS JOIN LATERAL (VALUES (1, p.first_day), (2, p.last_day), (3, p.first_day - 1))
        AS d(role, day)
),
steps AS (
    SELECT kind, mutual_id, section, e AS day, n AS step, NULL AS label, 0 AS role
    FROM spans
    UNION ALL
    SELECT kind, mutual_id, section, x + 1, -n, NULL, 0 FROM leavers
    UNION ALL
    SELECT kind, mutual_id, section, day, 0, label, role FROM asked
),
running AS (
    SELECT kind, mutual_id, section, label, role,
        sum(step) OVER (PARTITION BY kind, mutual_id, section ORDER BY day) AS active
    FROM steps
),
parts AS (
    SELECT kind, mutual_id, section, label,
        CASE role WHEN 1 THEN active ELSE 0 END AS first,
        CASE role WHEN 2 THEN active ELSE 0 END AS last,
        CASE role WHEN 3 THEN active ELSE 0 END AS before,
        0 AS departed
    FROM running WHERE role > 0
    UNION ALL
    SELECT s.kind, s.mutual_id, s.section, p.label, 0, 0, 0, s.n
    FROM leavers s JOIN periods p
        ON s.x >= p.first_day AND s.x < p.last_day AND s.e <= p.first_day
),
counted AS MATERIALIZED (
    SELECT kind, mutual_id, section, label, sum(first) AS first, sum(last) AS last,
        sum(before) AS before, sum(departed) AS departed
    FROM parts GROUP BY kind, mutual_id, section, label
)
SELECT c.mutual_id, NULLIF(c.section, 0), c.label, v.code, '', v.num, v.den, :now
FROM counted c CROSS JOIN LATERAL (VALUES
    (CASE c.kind WHEN 1 THEN 'HH_START' ELSE 'BEN_START' END, c.first, 1),
    (CASE c.kind WHEN 1 THEN 'HH' ELSE 'BEN' END, c.last, 1),
    (CASE c.kind WHEN 1 THEN 'HH_NEW' ELSE 'BEN_NEW' END, c.last - c.first + c.departed, 1),
    (CASE c.kind WHEN 1 THEN 'HH_LEFT' ELSE 'BEN_LEFT' END, c.departed, 1),
    (CASE c.kind WHEN 1 THEN 'M.1' ELSE 'M.1B' END, c.last - c.before, c.before)
) AS v(code, num, den)
UNION ALL
SELECT t.mutual_id, t.section_id, p.label, 'M.5', '', coalesce(c.last, 0), t.population, :now
FROM indicator_targets t
JOIN periods p ON t.year = CAST(extract(year FROM p.first_day) AS integer)
LEFT JOIN counted c ON c.kind = 0 AND c.mutual_id = t.mutual_id
    AND c.section = t.section_id AND c.label = p.label
WHERE t.mutual_id = ANY(:ids)
"""

# :periods_ids are the coverage periods to read (those holding a reporting period's last day
# and those just before them), :next_ids each one's next coverage period of its product.
SHARES = f"""{_INSERT}
WITH {_PERIODS},
covers AS (
    SELECT c.id, c.next_id, cp.product_id, cp.starts_on, cp.ends_on
    FROM unnest(CAST(:period_ids AS integer[]), CAST(:next_ids AS integer[])) AS c(id, next_id)
    JOIN coverage_periods cp ON cp.id = c.id
),
live AS (
    SELECT a.beneficiary_id, a.period_id, CAST(sum(a.member_amount) AS bigint) AS member,
        CAST(sum(a.funder_amount) AS bigint) AS funder
    FROM allocations a
    WHERE (:everyone OR a.mutual_id = ANY(:ids)) AND a.period_id = ANY(:period_ids)
        AND a.kind = 'contribution'
        AND NOT EXISTS (SELECT FROM allocation_reversals r WHERE r.allocation_id = a.id)
    GROUP BY a.beneficiary_id, a.period_id
),
counted AS (
    SELECT b.household_id, cp.id AS period_id, count(*) AS n,
        count(l.beneficiary_id) AS with_share,
        coalesce(sum(l.member), 0) AS got_m, coalesce(sum(l.funder), 0) AS got_f
    FROM beneficiaries b
    JOIN households h ON h.id = b.household_id
    JOIN covers cp ON cp.product_id = h.product_id
    LEFT JOIN live l ON l.beneficiary_id = b.id AND l.period_id = cp.id
    WHERE (:everyone OR b.mutual_id = ANY(:ids))
        AND b.enrolled_on <= least(cp.ends_on, CAST(:today AS date))
        AND (b.status NOT IN ('removed', 'deceased')
             OR b.left_on >= least(cp.ends_on, CAST(:today AS date)))
    GROUP BY b.household_id, cp.id
),
homes AS MATERIALIZED (
    SELECT c.household_id, c.period_id, cp.next_id, h.mutual_id,
        coalesce(h.section_id, 0) AS section, f.code AS funder,
        CASE WHEN c.with_share >= c.n THEN 1 ELSE 0 END AS paid,
        c.n * ((pr.contribution * coalesce(s.member_share, 100) + 99) / 100) AS due_m,
        c.n * (pr.contribution - (pr.contribution * coalesce(s.member_share, 100) + 99) / 100)
            AS due_f,
        c.got_m, c.got_f
    FROM counted c
    JOIN covers cp ON cp.id = c.period_id
    JOIN households h ON h.id = c.household_id
    JOIN products pr ON pr.id = h.product_id
    LEFT JOIN subsidies s ON s.product_id = pr.id AND s.category = h.category
    LEFT JOIN funders f ON f.id = s.funder_id
),
sums AS (
    SELECT period_id, mutual_id, section, funder, count(*) AS n, sum(paid) AS paid,
        sum(due_m) AS due_m, sum(got_m) AS got_m, sum(due_f) AS due_f, sum(got_f) AS got_f
    FROM homes GROUP BY period_id, mutual_id, section, funder
),
pairs AS (  -- M.2: a household's row paid for a period, next to its row of the next period
    SELECT household_id, next_id AS period_id, mutual_id, section, 1 AS before, 0 AS paid
    FROM homes WHERE paid = 1 AND next_id IS NOT NULL
    UNION ALL
    SELECT household_id, period_id, mutual_id, section, 0, paid FROM homes
),
kept AS (
    SELECT period_id, mutual_id, section, sum(before) AS n, sum(before * paid) AS paid
    FROM (
        SELECT household_id, period_id, mutual_id, section, sum(before) AS before,
            max(paid) AS paid
        FROM pairs GROUP BY household_id, period_id, mutual_id, section
        HAVING sum(before) > 0
    ) k
    GROUP BY period_id, mutual_id, section
),
figures AS (
    SELECT s.period_id, s.mutual_id, s.section, v.code, v.key, v.num, v.den
    FROM sums s CROSS JOIN LATERAL (VALUES
        ('PAID_UP', '', s.paid, s.n),
        ('M.6', '', s.got_m, s.due_m),
        ('M.6F', '', s.got_f, s.due_f)
    ) AS v(code, key, num, den)
    UNION ALL
    SELECT period_id, mutual_id, section, 'FUNDER_SHARE', funder, got_f, due_f
    FROM sums WHERE funder IS NOT NULL AND (due_f <> 0 OR got_f <> 0)
    UNION ALL
    SELECT period_id, mutual_id, section, 'M.2', '', paid, n FROM kept
)
SELECT f.mutual_id, NULLIF(f.section, 0), p.label, f.code, f.key, sum(f.num), sum(f.den), :now
FROM figures f
JOIN coverage_periods cp ON cp.id = f.period_id
JOIN periods p ON p.last_day BETWEEN cp.starts_on AND cp.ends_on
GROUP BY f.mutual_id, f.section, p.label, f.code, f.key
"""

PAYMENTS = f"""{_INSERT}
WITH {_PERIODS},
months AS (
    SELECT p.mutual_id, h.section_id,
        CASE WHEN p.channel = 'mobile' AND coalesce(i.provider, '') <> ''
            THEN 'mobile:' || i.provider ELSE p.channel END AS key,
        CAST(date_trunc('month', p.paid_on) AS date) AS month,
        sum(p.amount) AS amount, count(*) AS n
    FROM payments p
    JOIN households h ON h.id = p.household_id
    LEFT JOIN payment_intents i ON i.payment_id = p.id AND i.mutual_id = p.mutual_id
    WHERE (:everyone OR p.mutual_id = ANY(:ids)) AND p.paid_on BETWEEN :first AND :last
    GROUP BY 1, 2, 3, 4
),
summed AS (
    SELECT m.mutual_id, m.section_id, p.label, m.key, sum(m.amount) AS amount, sum(m.n) AS n
    FROM months m JOIN periods p ON m.month BETWEEN p.first_day AND p.last_day
    GROUP BY m.mutual_id, m.section_id, p.label, m.key
)
SELECT mutual_id, section_id, label, v.code, key, v.num, 1, :now
FROM summed CROSS JOIN LATERAL (VALUES ('AMOUNT', amount), ('PAYMENTS', n)) AS v(code, num)
"""


def _params(
    mutual_ids: Sequence[int], periods: Sequence[Period], now: dt.datetime, everyone: bool
) -> dict[str, Any]:
    return {
        "ids": list(mutual_ids),
        "everyone": everyone,
        "labels": [p.label for p in periods],
        "firsts": [p.start for p in periods],
        "lasts": [p.end for p in periods],
        "now": now,
    }


def write_register(
    session: Session,
    mutual_ids: Sequence[int],
    periods: Sequence[Period],
    now: dt.datetime,
    everyone: bool = False,
) -> int:
    """HH_*, BEN_*, M.1, M.1B per section and period, and M.5 where a target was entered."""
    result = session.execute(text(REGISTER), _params(mutual_ids, periods, now, everyone))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def write_shares(
    session: Session,
    mutual_ids: Sequence[int],
    periods: Sequence[Period],
    coverage: dict[int, int | None],
    today: dt.date,
    now: dt.datetime,
    everyone: bool = False,
) -> int:
    """PAID_UP, M.6, M.6F, FUNDER_SHARE and M.2 from the coverage periods `coverage` (each
    with its next one of the same product, or None)."""
    if not coverage:
        return 0
    params = _params(mutual_ids, periods, now, everyone)
    params |= {"period_ids": list(coverage), "next_ids": list(coverage.values()), "today": today}
    result = session.execute(text(SHARES), params)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def write_payments(
    session: Session,
    mutual_ids: Sequence[int],
    periods: Sequence[Period],
    now: dt.datetime,
    everyone: bool = False,
) -> int:
    """AMOUNT and PAYMENTS per channel ('mobile:<provider>' for mobile money) and section."""
    params = _params(mutual_ids, periods, now, everyone)
    params |= {"first": min(p.start for p in periods), "last": max(p.end for p in periods)}
    result = session.execute(text(PAYMENTS), params)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
