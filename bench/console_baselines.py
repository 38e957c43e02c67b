"""The console benchmark's baselines (issue 16, acceptance 4): for each page, the rows it shows
read by plain SQL (text queries, the same filters and LIMIT), with nothing else: no Flask, no
ORM objects, no template. `{scope}` is the operator's scope as one condition on the table's
`mutual_id` (TRUE for an all-scope admin)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import Connection, text

from gateway.lib.phones import phone_key

PAGE = 51  # the pages read one row more than they show, to know whether a next page exists


@dataclass(frozen=True)
class Query:
    """One plain SQL statement and its parameters; `scope_column` gets the scope's condition."""

    sql: str
    params: dict[str, object] = field(default_factory=dict)


def scope_sql(column: str, mutual_id: int | None) -> str:
    return "TRUE" if mutual_id is None else f"{column} = {int(mutual_id)}"


def run(conn: Connection, queries: list[Query]) -> int:
    """Run every query, fetch every row; the rows read."""
    return sum(len(conn.execute(text(q.sql), q.params).all()) for q in queries)


def home(mutual_id: int | None, now: dt.datetime) -> list[Query]:
    day = now.astimezone(dt.UTC).date()
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    s = scope_sql
    return [
        Query(
            "SELECT count(id), coalesce(sum(amount), 0) FROM payments "
            f"WHERE paid_on = :day AND {s('mutual_id', mutual_id)}",
            {"day": day},
        ),
        Query(
            "SELECT status, count(id) FROM outbox_messages "
            f"WHERE created_at >= :start AND {s('mutual_id', mutual_id)} GROUP BY status",
            {"start": start},
        ),
        Query(
            "SELECT count(id) FROM alerts "
            f"WHERE resolved_at IS NULL AND {s('mutual_id', mutual_id)}"
        ),
        Query(
            "SELECT count(id) FROM suspense_items "
            f"WHERE state = 'OPEN' AND {s('mutual_id', mutual_id)}"
        ),
    ]


def household(
    mutual_id: int | None, number: str, hh: int, mutual: int, msisdn: str, secret: str
) -> list[Query]:
    """The household, its members and phones, what its standing is computed from (its
    coverage snapshot, else its allocations and its credit: the seed has no snapshot), and
    the timeline's first page: the newest 51 of each of the page's nine sources merged by
    SQL, each source after the hops read from the 51st newest hop on (what the page does:
    nothing older can be on the page; without it the payments made without an intent are
    found by probing every payment of the household), then the events and postings of the
    page's intents."""
    key = phone_key(secret, msisdn)
    params = {"n": number, "h": hh, "m": mutual, "k": key, "p": msisdn, "a": f"liab:household:{hh}"}
    since = "AND {at} >= (SELECT at FROM floor)"
    timeline = (
        "WITH hop AS (SELECT 'hop' AS kind, id, created_at AS at, screen AS what FROM ussd_hops "
        " WHERE phone_key = :k AND mutual_id = :m ORDER BY created_at DESC, id DESC LIMIT 51), "
        "floor AS (SELECT CASE WHEN count(*) = 51 THEN min(at) ELSE '-infinity' END AS at "
        " FROM hop) "
        "SELECT * FROM ((SELECT * FROM hop) "
        "UNION ALL (SELECT 'end', id, received_at, status FROM ussd_session_events "
        f" WHERE phone_key = :k AND mutual_id = :m {since.format(at='received_at')} "
        " ORDER BY received_at DESC, id DESC LIMIT 51) "
        "UNION ALL (SELECT 'sms', id, created_at, status FROM outbox_messages "
        f" WHERE mutual_id = :m AND (phone = :p OR household_id = :h) "
        f" {since.format(at='created_at')} ORDER BY created_at DESC, id DESC LIMIT 51) "
        "UNION ALL (SELECT 'intent', id, created_at, state FROM payment_intents "
        f" WHERE household_id = :h {since.format(at='created_at')} "
        " ORDER BY created_at DESC, id DESC LIMIT 51) "
        "UNION ALL (SELECT 'payment', p.id, p.created_at, p.reference FROM payments p "
        f" WHERE p.household_id = :h {since.format(at='p.created_at')} AND NOT EXISTS "
        " (SELECT 1 FROM payment_intents i WHERE i.payment_id = p.id) "
        " ORDER BY p.created_at DESC, p.id DESC LIMIT 51) "
        "UNION ALL (SELECT 'reminder', id, created_at, status FROM reminder_occurrences "
        f" WHERE household_id = :h {since.format(at='created_at')} "
        " ORDER BY created_at DESC, id DESC LIMIT 51) "
        "UNION ALL (SELECT 'cash', id, collected_at, receipt_code FROM cash_collections "
        f" WHERE household_id = :h {since.format(at='collected_at')} "
        " ORDER BY collected_at DESC, id DESC LIMIT 51) "
        "UNION ALL (SELECT 'action', id, occurred_at, action FROM operator_actions "
        " WHERE object_type = 'household' AND object_id = CAST(:h AS text) "
        f" {since.format(at='occurred_at')} ORDER BY occurred_at DESC, id DESC LIMIT 51) "
        "UNION ALL (SELECT 'event', id, recorded_at, type FROM household_events "
        f" WHERE household_id = :h {since.format(at='recorded_at')} "
        " ORDER BY recorded_at DESC, id DESC LIMIT 51)"
        ") t ORDER BY at DESC, id DESC LIMIT 51"
    )
    details = (
        "SELECT e.intent_id, e.state, t.kind, a.name, l.amount FROM payment_intents i "
        "JOIN payment_events e ON e.intent_id = i.id "
        "LEFT JOIN payments p ON p.id = i.payment_id "
        "LEFT JOIN ledger_transactions t ON t.mutual_id = i.mutual_id "
        " AND t.idempotency_key = p.ledger_key "
        "LEFT JOIN ledger_entries l ON l.transaction_id = t.id "
        "LEFT JOIN ledger_accounts a ON a.id = l.account_id "
        "WHERE i.id IN (SELECT id FROM payment_intents WHERE household_id = :h "
        " ORDER BY created_at DESC, id DESC LIMIT 51)"
    )
    return [
        Query(
            f"SELECT * FROM households WHERE number = :n AND {scope_sql('mutual_id', mutual_id)} "
            "LIMIT 2",
            params,
        ),
        Query("SELECT * FROM beneficiaries WHERE household_id = :h ORDER BY id", params),
        Query("SELECT * FROM household_phones WHERE household_id = :h", params),
        Query("SELECT data FROM coverage_snapshots WHERE household_id = :h", params),
        Query(
            "SELECT a.kind, a.beneficiary_id, a.allocated_on, c.starts_on, c.ends_on, r.id "
            "FROM allocations a LEFT JOIN coverage_periods c ON c.id = a.period_id "
            "LEFT JOIN allocation_reversals r ON r.allocation_id = a.id "
            "WHERE a.household_id = :h",
            params,
        ),
        Query(
            "SELECT coalesce(sum(l.amount), 0) FROM ledger_entries l "
            "JOIN ledger_accounts a ON a.id = l.account_id WHERE a.mutual_id = :m AND a.name = :a",
            params,
        ),
        Query(timeline, params),
        Query(details, params),
    ]


@dataclass(frozen=True)
class Window:
    """A list page's filters, as the page was asked for them."""

    since: dt.datetime
    until: dt.datetime
    mutual_id: int | None = None  # the filter (not the scope)
    status: str | None = None
    errors: bool = False
    after: tuple[dt.datetime, int] | None = None  # the cursor's (at, id)


def ussd(scope_mutual: int | None, w: Window) -> list[Query]:
    """The window's sessions newest first by their first hop in the window: that first hop
    found by the hops' time index, its session's hops counted, its end joined."""
    where = [
        "h.created_at >= :since AND h.created_at < :until",
        scope_sql("h.mutual_id", scope_mutual),
    ]
    if w.mutual_id is not None:
        where.append(f"h.mutual_id = {int(w.mutual_id)}")
    if w.after is not None:
        where.append("(h.created_at, h.id) < (:at, :id)")
    outer = []
    if w.status == "open":
        outer.append("e.id IS NULL")
    elif w.status:
        outer.append("e.status = :status")
    if w.errors:
        outer.append("(e.status = 'Failed' OR e.error_message IS NOT NULL OR a.apologies > 0)")
    sql = (
        "SELECT h.provider, h.session_id, h.created_at, h.id, a.hops, a.apologies, a.last_id, "
        " e.status, e.error_message "
        "FROM ussd_hops h "
        "CROSS JOIN LATERAL (SELECT count(*) AS hops, max(x.id) AS last_id, "
        "  sum(CASE WHEN x.screen = 'apology' THEN 1 ELSE 0 END) AS apologies "
        "  FROM ussd_hops x WHERE x.session_id = h.session_id AND x.provider = h.provider "
        "  AND x.created_at >= :since AND x.created_at < :until) a "
        "LEFT JOIN ussd_session_events e ON e.provider = h.provider "
        " AND e.session_id = h.session_id "
        f"WHERE {' AND '.join(where)} AND NOT EXISTS (SELECT 1 FROM ussd_hops f "
        " WHERE f.session_id = h.session_id AND f.provider = h.provider "
        " AND f.created_at >= :since AND (f.created_at, f.id) < (h.created_at, h.id)) "
        f"{''.join(' AND ' + o for o in outer)} "
        "ORDER BY h.created_at DESC, h.id DESC LIMIT 51"
    )
    params: dict[str, object] = {"since": w.since, "until": w.until, "status": w.status}
    if w.after is not None:
        params.update(at=w.after[0], id=w.after[1])
    # the screen each dropped session left from, as its end notification keeps it (0035)
    drops = (
        "SELECT last_screen, count(*) FROM ussd_session_events "
        "WHERE status IN ('Incomplete', 'Failed') AND received_at >= :since "
        f"AND received_at < :until AND {scope_sql('mutual_id', scope_mutual)} "
        f"AND {scope_sql('mutual_id', w.mutual_id)} AND last_screen IS NOT NULL "
        "GROUP BY last_screen"
    )
    return [
        Query(f"SELECT id, code FROM mutuals WHERE {scope_sql('id', scope_mutual)} ORDER BY code"),
        Query(sql, params),
        Query(drops, params),
    ]


def sms(scope_mutual: int | None, w: Window) -> list[Query]:
    where = [
        "created_at >= :since AND created_at < :until",
        scope_sql("mutual_id", scope_mutual),
    ]
    if w.mutual_id is not None:
        where.append(f"mutual_id = {int(w.mutual_id)}")
    if w.status:
        where.append("status = :status")
    if w.errors:
        where.append("(status IN ('FAILED', 'REJECTED', 'EXPIRED') OR last_error IS NOT NULL)")
    if w.after is not None:
        where.append("(created_at, id) < (:at, :id)")
    params: dict[str, object] = {"since": w.since, "until": w.until, "status": w.status}
    if w.after is not None:
        params.update(at=w.after[0], id=w.after[1])
    return [
        Query(
            f"SELECT id, code FROM mutuals WHERE {scope_sql('id', scope_mutual)} "
            "ORDER BY code LIMIT 500"
        ),
        Query(
            "SELECT id, mutual_id, name FROM sections "
            f"WHERE {scope_sql('mutual_id', scope_mutual)} ORDER BY mutual_id, name LIMIT 500"
        ),
        Query(
            f"SELECT * FROM outbox_messages WHERE {' AND '.join(where)} "
            "ORDER BY created_at DESC, id DESC LIMIT 51",
            params,
        ),
    ]


def members(scope_mutual: int | None, q: str, phone: str | None) -> list[Query]:
    """Households matching `q` by every key the page must try for it, with their head's name
    and mutual's code: for digits, a household's or a member's digits, `phone` (q read as a
    phone in the scope's country) and a receipt code; otherwise a receipt code and a name
    prefix (lower(full_name) LIKE)."""
    scope = scope_sql("h.mutual_id", scope_mutual)
    digits = "".join(c for c in q if c.isdigit())
    keys = ["SELECT household_id FROM cash_collections WHERE receipt_code = :r"]
    if digits:
        keys += [
            "SELECT id FROM households WHERE digits = :d",
            "SELECT household_id FROM beneficiaries WHERE digits = :d",
        ]
        if phone:
            keys.append("SELECT household_id FROM household_phones WHERE msisdn = :p")
    if not q.isdigit():
        keys.append("SELECT household_id FROM beneficiaries WHERE lower(full_name) LIKE :n")
    params: dict[str, object] = {"r": q.upper(), "d": digits, "p": phone, "n": q.lower() + "%"}
    return [
        Query(
            "SELECT h.id, h.number, m.code, b.full_name FROM households h "
            "JOIN mutuals m ON m.id = h.mutual_id "
            "LEFT JOIN beneficiaries b ON b.household_id = h.id AND b.relationship = 'head' "
            f"WHERE h.id IN ({' UNION ALL '.join(keys)}) AND {scope} "
            "ORDER BY h.number, h.id LIMIT 50",
            params,
        )
    ]
