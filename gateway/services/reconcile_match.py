"""The matching engine (payments.md, "Reconciliation"), set-based: each tier is one
INSERT ... SELECT over the new statement lines of a scope (mutual, provider, days).

Tiers: (1) our reference; (2) the provider's transaction id; (3) same msisdn and amount within
WINDOW, only when the line has exactly one candidate intent and that intent exactly one
candidate line; (4) otherwise a person decides. Every line gets one row (its bucket); a line is
final once matched. Credited intents that no line covers get a missing_in_statement row,
recomputed on every run. Nothing here moves money: see reconcile_effects."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import cast

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Session, aliased

from gateway.models import PaymentIntent, ReconMatch, StatementLine

WINDOW = dt.timedelta(hours=2)  # tier 3: line time vs the intent's creation, either way
CHUNK = 1000  # tier-3 pairs per statement
DEFAULT_LAG_HOURS = 48  # a credited intent may wait this long for its statement line

L, N, R = StatementLine, PaymentIntent, ReconMatch
MATCHES = cast(Table, ReconMatch.__table__)
TARGET = ("mutual_id", "provider", "day", "line_id", "intent_id", "tier", "bucket", "action")


@dataclass(frozen=True)
class Scope:
    mutual_id: int
    provider: str
    days: tuple[dt.date, ...]

    def lines(self) -> ColumnElement[bool]:
        """This scope's lines that have no result yet."""
        return and_(
            L.mutual_id == self.mutual_id,
            L.provider == self.provider,
            L.day.in_(self.days),
            ~exists().where(R.line_id == L.id),
        )


def match(session: Session, scope: Scope, lag_hours: int = DEFAULT_LAG_HOURS) -> None:
    """Give every new line of the scope its tier and bucket, then recompute the scope's
    missing_in_statement rows. Safe to run again: matched lines are left alone."""
    session.flush()
    _tune(session)
    _tier(session, scope, 1, N.reference == L.reference)
    _analyze(session)
    _tier(
        session,
        scope,
        2,
        and_(L.provider_txn_id.is_not(None), N.provider_txn_id == L.provider_txn_id),
    )
    _tier3(session, scope)
    _unmatched(session, scope)
    refresh_missing(session, scope, lag_hours)


def _tune(session: Session) -> None:
    """Room to sort a day's lines in memory (the rank of lines per intent), for this
    transaction only."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL work_mem = '256MB'"))


def _analyze(session: Session) -> None:
    """Fresh statistics after a large insert: without them PostgreSQL still believes the
    results table empty and the later tiers' anti-joins become nested loops (quadratic)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ANALYZE recon_matches"))


def _candidates(scope: Scope, on: ColumnElement[bool], tier: int) -> Select[tuple[object, ...]]:
    """(line, intent) pairs with the line's bucket. Several lines on one intent: the one with
    the intent's transaction id, else the earliest, wins; the others are duplicates."""
    rank = func.row_number().over(
        partition_by=N.id,
        order_by=(
            case((L.provider_txn_id == N.provider_txn_id, 0), else_=1),
            L.occurred_at,
            L.natural_key,
        ),
    )
    pairs = (
        select(
            L.mutual_id,
            L.provider,
            L.day,
            L.id.label("line_id"),
            N.id.label("intent_id"),
            L.status,
            L.amount.label("paid"),
            N.amount.label("asked"),
            N.state,
            N.flag,
            rank.label("rank"),
            _taken(tier).label("taken"),
        )
        .join(N, and_(N.mutual_id == L.mutual_id, N.provider == L.provider, on))
        .where(scope.lines())
        .subquery()
    )
    bucket = case(
        (or_(pairs.c.rank > 1, pairs.c.taken), "duplicate"),
        (and_(pairs.c.status == "FAILED", pairs.c.state == "SUCCEEDED"), "amount_mismatch"),
        (pairs.c.status == "FAILED", "matched"),
        (or_(pairs.c.paid != pairs.c.asked, pairs.c.flag == "amount_mismatch"), "amount_mismatch"),
        (pairs.c.state == "SUCCEEDED", "matched"),
        else_="missing_in_ledger",
    )
    # A plain match of collected money needs nothing more: marked done here, so that only
    # exceptions are loaded and acted on one by one (reconcile_effects).
    action = case((and_(bucket == "matched", pairs.c.status == "SUCCEEDED"), "none"))
    p = pairs.c
    return select(
        p.mutual_id, p.provider, p.day, p.line_id, p.intent_id, literal(tier), bucket, action
    )


def _taken(tier: int) -> ColumnElement[bool]:
    """The intent already has a line. Tier 1 starts on an empty table that grows while the
    statement inserts, so it tests membership in a set built once (a hashed subplan); later
    tiers, with fresh statistics, look each intent up in the index."""
    lined = and_(R.line_id.is_not(None), R.intent_id.is_not(None))
    if tier == 1:
        return N.id.in_(select(R.intent_id).where(lined))
    return exists().where(R.intent_id == N.id, lined)


def _tier(session: Session, scope: Scope, tier: int, on: ColumnElement[bool]) -> None:
    session.execute(insert(MATCHES).from_select(TARGET, _candidates(scope, on, tier)))


def _tier3(session: Session, scope: Scope) -> None:
    """Same msisdn and amount within WINDOW; a pair is kept only when it is the line's only
    candidate and the intent's only candidate. Lines with candidates but no such pair are
    tier 4: a person decides."""
    free = ~exists().where(R.intent_id == N.id, R.line_id.is_not(None))
    query = (
        select(L.id, L.occurred_at, N.id, N.created_at, N.reference)
        .join(
            N,
            and_(
                N.mutual_id == L.mutual_id,
                N.provider == L.provider,
                N.msisdn == L.msisdn,
                N.amount == L.amount,
            ),
        )
        .where(scope.lines(), L.msisdn.is_not(None), free)
    )
    by_line: dict[int, list[tuple[int, str]]] = defaultdict(list)
    by_intent: dict[int, list[int]] = defaultdict(list)
    for line_id, at, intent_id, created, reference in session.execute(query):
        if abs(at - created) <= WINDOW:
            by_line[line_id].append((intent_id, reference))
            by_intent[intent_id].append(line_id)
    pairs = [
        (line_id, found[0][0])
        for line_id, found in sorted(by_line.items())
        if len(found) == 1 and len(by_intent[found[0][0]]) == 1
    ]
    for i in range(0, len(pairs), CHUNK):
        chunk = pairs[i : i + CHUNK]
        # Each line's intent by a CASE on the line id: an index lookup per line, where a
        # list of (line, intent) pairs would be a filter over every combination.
        on = and_(
            L.id.in_([line_id for line_id, _ in chunk]), N.id == case(dict(chunk), value=L.id)
        )
        session.execute(insert(MATCHES).from_select(TARGET, _candidates(scope, on, 3)))
    paired = {line_id for line_id, _ in pairs}
    for line_id, found in sorted(by_line.items()):
        if line_id not in paired:
            refs = ", ".join(sorted(ref for _, ref in found))
            _tier4(session, scope, line_id, f"{len(found)} candidate(s): {refs}"[:300])


def _tier4(session: Session, scope: Scope, line_id: int, note: str) -> None:
    line = session.get_one(StatementLine, line_id)
    session.add(
        ReconMatch(
            mutual_id=scope.mutual_id,
            provider=scope.provider,
            day=line.day,
            line_id=line_id,
            tier=4,
            bucket="missing_in_ledger",
            note=note,
        )
    )
    session.flush()


def _unmatched(session: Session, scope: Scope) -> None:
    """Lines no tier placed: the provider has money (or a failure) we know nothing about."""
    query = select(
        L.mutual_id, L.provider, L.day, L.id, null(), null(), literal("missing_in_ledger"), null()
    ).where(scope.lines())
    session.execute(insert(MATCHES).from_select(TARGET, query))


def refresh_missing(session: Session, scope: Scope, lag_hours: int) -> None:
    """Credited intents of the scope's days with no line: expected within the settlement lag
    (measured from the newest line the provider sent, not the clock: same inputs, same
    result), overdue after it."""
    lined = aliased(ReconMatch)
    covered = exists().where(lined.intent_id == R.intent_id, lined.line_id.is_not(None))
    session.execute(
        delete(R).where(
            R.line_id.is_(None),
            or_(
                and_(
                    R.mutual_id == scope.mutual_id,
                    R.provider == scope.provider,
                    R.day.in_(scope.days),
                ),
                covered,
            ),
        )
    )
    horizon = session.scalar(
        select(func.max(L.occurred_at)).where(
            L.mutual_id == scope.mutual_id, L.provider == scope.provider
        )
    )
    cutoff = (horizon or dt.datetime.min.replace(tzinfo=dt.UTC)) - dt.timedelta(hours=lag_hours)
    for day in scope.days:
        start = dt.datetime.combine(day, dt.time(), dt.UTC)
        credited = and_(
            N.mutual_id == scope.mutual_id,
            N.provider == scope.provider,
            N.state == "SUCCEEDED",
            N.payment_id.is_not(None),
            N.completed_at >= start,
            N.completed_at < start + dt.timedelta(days=1),
            ~exists().where(R.intent_id == N.id),
        )
        action = case((N.completed_at >= cutoff, "expected"), else_="overdue")
        query = select(
            N.mutual_id, N.provider, literal(day), N.id, literal("missing_in_statement"), action
        ).where(credited)
        target = ("mutual_id", "provider", "day", "intent_id", "bucket", "action")
        session.execute(insert(MATCHES).from_select(target, query))
