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
    """The household, its members and phones, and the timeline's first page: the newest 51 of
    each source, merged by SQL, then the events and postings of the page's intents."""
    key = phone_key(secret, msisdn)
    params = {"n": number, "h": hh, "m": mutual, "k": key, "p": msisdn}
    timeline = (
        "SELECT * FROM ("
        "(SELECT 'hop' AS kind, id, created_at AS at, screen AS what FROM ussd_hops "
        " WHERE phone_key = :k AND mutual_id = :m ORDER BY created_at DESC, id DESC LIMIT 51) "
        "UNION ALL (SELECT 'end', id, received_at, status FROM ussd_session_events "
        " WHERE phone_key = :k AND mutual_id = :m ORDER BY received_at DESC, id DESC LIMIT 51) "
        "UNION ALL (SELECT 'sms', id, created_at, status FROM outbox_messages "
        " WHERE mutual_id = :m AND (phone = :p OR household_id = :h) "
        " ORDER BY created_at DESC, id DESC LIMIT 51) "
        "UNION ALL (SELECT 'intent', id, created_at, state FROM payment_intents "
        " WHERE household_id = :h ORDER BY created_at DESC, id DESC LIMIT 51)"
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
    drops = (
        "SELECT last.screen, count(*) FROM ussd_session_events e "
        "CROSS JOIN LATERAL (SELECT x.screen FROM ussd_hops x WHERE x.provider = e.provider "
        " AND x.session_id = e.session_id ORDER BY x.id DESC LIMIT 1) last "
        "WHERE e.status IN ('Incomplete', 'Failed') AND e.received_at >= :since "
        f"AND e.received_at < :until AND {scope_sql('e.mutual_id', scope_mutual)} "
        f"AND {scope_sql('e.mutual_id', w.mutual_id)} GROUP BY last.screen"
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


def members(scope_mutual: int | None, kind: str, q: str) -> list[Query]:
    """Households matching `q` (a household number's digits, a name prefix or a phone) with
    their head's name."""
    scope = scope_sql("h.mutual_id", scope_mutual)
    match = {
        "number": "h.digits = :q OR h.id IN "
        "(SELECT household_id FROM beneficiaries WHERE digits = :q)",
        "name": "h.id IN (SELECT household_id FROM beneficiaries WHERE lower(full_name) LIKE :q)",
        "phone": "h.id IN (SELECT household_id FROM household_phones WHERE msisdn = :q)",
    }[kind]
    return [
        Query(
            "SELECT h.id, h.number, m.code, b.full_name FROM households h "
            "JOIN mutuals m ON m.id = h.mutual_id "
            "LEFT JOIN beneficiaries b ON b.household_id = h.id AND b.relationship = 'head' "
            f"WHERE ({match}) AND {scope} ORDER BY h.number, h.id LIMIT 50",
            {"q": q},
        )
    ]
