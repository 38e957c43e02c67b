"""The matching engine (payments.md, "Reconciliation"), set-based: one INSERT ... SELECT
over the new statement lines of a scope (mutual, provider, days) places them by tiers 1 and 2,
then tiers 3 and 4 look at the few lines left.

Tiers: (1) our reference; (2) the provider's transaction id; (3) same msisdn and amount within
WINDOW, only when the line has exactly one candidate intent and that intent exactly one
candidate line; (4) otherwise a person decides. Every line gets one row (its bucket); a line is
final once matched. Credited intents that no line covers get a missing_in_statement row
(`recon_missing`), recomputed on every run. Nothing here moves money: see reconcile_effects."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Select,
    Subquery,
    Table,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session, aliased

from gateway.models import (
    IntentFlag,
    IntentState,
    LineStatus,
    PaymentIntent,
    ReconMatch,
    ReconMissing,
    StatementDay,
    StatementLine,
)

WINDOW = dt.timedelta(hours=2)  # tier 3: line time vs the intent's creation, either way
CHUNK = 1000  # tier-2 and tier-3 lines per statement
TIER2_IN_BULK = 20_000  # more tier-2 lines than this: one statement over the scope
ANALYZE_AFTER = 10_000  # new results after which PostgreSQL's statistics are refreshed
DEFAULT_LAG_HOURS = 48  # a credited intent may wait this long for its statement line
MISSING_AT_ONCE = 10_000  # missing intents read, then written, in one go
FEW_RESULTS = 2_000_000  # tier 1 hashes the intents with a result below this many results

L, N, R, M, D = StatementLine, PaymentIntent, ReconMatch, ReconMissing, StatementDay
MATCHES = cast(Table, ReconMatch.__table__)
MISSING = cast(Table, ReconMissing.__table__)
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
    missing_in_statement rows. Safe to run again: lines with a result are left alone.

    One INSERT ... SELECT gives every new line its row: its tier-1 result, or a placeholder
    (no intent, missing_in_ledger). Tiers 2, 3 and 4 then look only at this run's
    placeholders (rows awaiting action that were not there before), the few lines without
    our reference, instead of going over the whole statement again."""
    session.flush()
    _tune(session)
    waiting = select(R.line_id).where(
        R.mutual_id == scope.mutual_id,
        R.provider == scope.provider,
        R.day.in_(scope.days),
        R.action.is_(None),
    )
    mark = frozenset(session.scalars(waiting))  # left by a run that did not act (rare)
    query = insert(MATCHES).from_select(TARGET, _tier1(scope, _few_results(session)))
    options = {"preserve_rowcount": True}
    inserted = cast(CursorResult[Any], session.execute(query, execution_options=options))
    if inserted.rowcount > ANALYZE_AFTER:
        _analyze(session)
    _tier2(session, scope, mark)
    _tier3(session, scope, mark)
    refresh_missing(session, scope, lag_hours)


def _tune(session: Session) -> None:
    """Room to sort a day's lines in memory (the rank of lines per intent), and no JIT
    compilation (measured 0.3 s slower on the million-line statement), for this transaction
    only."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL work_mem = '256MB'"))
        session.execute(text("SET LOCAL jit = off"))


def _analyze(session: Session) -> None:
    """Fresh statistics after a large insert: without them PostgreSQL still believes the
    results table empty and the later anti-joins become nested loops (quadratic)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ANALYZE recon_matches"))


def _base_bucket(n: Any) -> ColumnElement[str]:
    """A (line, intent) pair's bucket when the line is the intent's only one."""
    return case(
        (and_(L.status == LineStatus.FAILED, n.state == IntentState.SUCCEEDED), "amount_mismatch"),
        (L.status == LineStatus.FAILED, "matched"),
        (or_(L.amount != n.amount, n.flag == IntentFlag.AMOUNT_MISMATCH), "amount_mismatch"),
        (n.state == IntentState.SUCCEEDED, "matched"),
        else_="missing_in_ledger",
    )


def _pairs(
    scope: Scope, n: Any, on: ColumnElement[bool], *, hashed: bool = False, outer: bool = False
) -> Subquery:
    """(line, intent) pairs of the scope's new lines, ranked among the intent's lines;
    `outer` keeps the lines without an intent (intent columns NULL). Everything that does
    not depend on the rank is computed before it, so that only narrow rows are sorted for
    the window (a million of them on a big statement)."""
    pair = (
        select(
            L.day,
            L.id.label("line_id"),
            n.id.label("intent_id"),
            L.status,
            _base_bucket(n).label("base"),
            _taken(n, hashed).label("taken"),
            case((L.provider_txn_id == n.provider_txn_id, 0), else_=1).label("txn_first"),
            L.occurred_at,
            L.natural_key,
        )
        .select_from(L)
        .join(n, on, isouter=outer)
        .where(scope.lines())
        .offset(0)  # a fence: PostgreSQL would fold the subquery and sort its inputs
        .subquery()
        .c
    )
    # Several lines on one intent: the one with the intent's transaction id, else the
    # earliest, wins; the others are duplicates.
    rank = func.row_number().over(
        partition_by=pair.intent_id,
        order_by=(pair.txn_first, pair.occurred_at, pair.natural_key),
    )
    columns = (pair.day, pair.line_id, pair.intent_id, pair.status, pair.base, pair.taken)
    return select(*columns, rank.label("rank")).subquery()


def _tier1(scope: Scope, hashed: bool) -> Select[tuple[object, ...]]:
    """Every new line of the scope: its intent by our reference, else a placeholder. The
    reference is unique, so it alone is the hash key; the scope's intents are filtered
    before the join."""
    own = select(N).where(N.mutual_id == scope.mutual_id, N.provider == scope.provider)
    n = aliased(PaymentIntent, own.subquery())
    p = _pairs(scope, n, n.reference == L.reference, hashed=hashed, outer=True).c
    return _results(scope, p, case((p.intent_id.is_not(None), literal(1))))


def _candidates(scope: Scope, on: ColumnElement[bool], tier: int) -> Select[tuple[object, ...]]:
    """(line, intent) pairs with the line's bucket (tiers 2 and 3)."""
    same = and_(N.mutual_id == L.mutual_id, N.provider == L.provider, on)
    return _results(scope, _pairs(scope, N, same).c, literal(tier))


def _results(scope: Scope, p: Any, tier: ColumnElement[Any]) -> Select[tuple[object, ...]]:
    """Result rows (TARGET's columns) of ranked pairs; the bucket is computed once per line,
    in a subquery whose columns the action then reads."""
    bucket = case(
        (p.intent_id.is_(None), literal("missing_in_ledger")),
        (or_(p.rank > 1, p.taken), literal("duplicate")),
        else_=p.base,
    )
    b = select(p.day, p.line_id, p.intent_id, p.status, tier.label("tier"), bucket.label("bucket"))
    c = b.subquery().c
    return select(
        literal(scope.mutual_id),
        literal(scope.provider),
        c.day,
        c.line_id,
        c.intent_id,
        c.tier,
        c.bucket,
        _action(c),
    )


def _action(b: Any) -> ColumnElement[str | None]:
    """A plain match of collected money needs nothing more, marked done here, so that only
    exceptions are loaded and acted on one by one (reconcile_effects). On a subquery's
    columns: the bucket is computed once per line."""
    return case((and_(b.bucket == "matched", b.status == LineStatus.SUCCEEDED), "none"))


def _taken(n: Any, hashed: bool) -> ColumnElement[bool]:
    """The intent already has a line. `hashed` (tier 1 on a table of few results, whose
    statistics do not count this run's rows yet): membership in the set of intents with a
    result, built once. Otherwise each intent is looked up in the index, or PostgreSQL hashes
    the set if that is cheaper: an IN set too large for memory would be scanned again for
    every line (quadratic)."""
    intent: ColumnElement[int] = n.id
    if hashed:
        return intent.in_(select(R.intent_id).where(R.intent_id.is_not(None)))
    return exists().where(R.intent_id == intent)


def _few_results(session: Session) -> bool:
    """Few enough results for tier 1 to hash their intents (PostgreSQL's estimate of the
    table, under FEW_RESULTS rows; an empty or never analysed table counts as few). SQLite
    indexes an IN set once, whatever its size."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    query = "SELECT reltuples FROM pg_class WHERE oid = 'recon_matches'::regclass"
    estimate = session.scalar(text(query))
    return estimate is None or estimate < FEW_RESULTS


def _placeholders(scope: Scope, mark: frozenset[int]) -> ColumnElement[bool]:
    """This run's rows of lines tier 1 could not place (found through the rows awaiting
    action, a partial index; `mark`: those awaiting action before the run)."""
    return and_(
        R.mutual_id == scope.mutual_id,
        R.provider == scope.provider,
        R.day.in_(scope.days),
        R.action.is_(None),
        R.tier.is_(None),
        R.intent_id.is_(None),
        R.line_id.not_in(sorted(mark)) if mark else literal(True),
    )


def _replace(session: Session, line_ids: list[int]) -> None:
    """Drop the placeholders of lines a later tier places."""
    session.execute(delete(R).where(R.line_id.in_(line_ids)))


def _tier2(session: Session, scope: Scope, mark: frozenset[int]) -> None:
    """The provider's transaction id, for the lines tier 1 could not place. Statements of
    whole intents' lines at a time, so that the rank among an intent's lines is decided in
    one statement; an intent that has a tier-1 line is taken (its tier-2 lines are
    duplicates)."""
    on = and_(L.provider_txn_id.is_not(None), N.provider_txn_id == L.provider_txn_id)
    query = (
        select(L.id, N.id)
        .select_from(R)
        .join(L, L.id == R.line_id)
        .join(N, and_(N.mutual_id == L.mutual_id, N.provider == L.provider, on))
        .where(_placeholders(scope, mark))
    )
    by_intent: dict[int, list[int]] = defaultdict(list)
    for line_id, intent_id in session.execute(query):
        by_intent[intent_id].append(line_id)
    if sum(len(found) for found in by_intent.values()) > TIER2_IN_BULK:
        # A statement mostly without our reference: one pass over the scope's lines.
        same = and_(N.mutual_id == L.mutual_id, N.provider == L.provider, on)
        lined = R.line_id.in_(select(L.id).join(N, same))
        session.execute(delete(R).where(_placeholders(scope, mark), lined))
        session.execute(insert(MATCHES).from_select(TARGET, _candidates(scope, on, 2)))
        return
    chunk: list[int] = []
    for n, intent_id in enumerate(sorted(by_intent), 1):
        chunk.extend(sorted(by_intent[intent_id]))
        if len(chunk) >= CHUNK or n == len(by_intent):
            _replace(session, chunk)
            pairs = _candidates(scope, and_(L.id.in_(chunk), on), 2)
            session.execute(insert(MATCHES).from_select(TARGET, pairs))
            chunk = []


def _tier3(session: Session, scope: Scope, mark: frozenset[int]) -> None:
    """Same msisdn and amount within WINDOW, for the lines no tier placed yet; a pair is
    kept only when it is the line's only candidate and the intent's only candidate. Lines
    with candidates but no such pair are tier 4: a person decides. The others stay
    missing_in_ledger (money we know nothing about)."""
    lined = aliased(ReconMatch)
    free = ~exists().where(lined.intent_id == N.id)
    query = (
        select(L.id, L.occurred_at, N.id, N.created_at, N.reference)
        .select_from(R)
        .join(L, L.id == R.line_id)
        .join(
            N,
            and_(
                N.mutual_id == L.mutual_id,
                N.provider == L.provider,
                N.msisdn == L.msisdn,
                N.amount == L.amount,
            ),
        )
        .where(_placeholders(scope, mark), L.msisdn.is_not(None), free)
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
        line_ids = [line_id for line_id, _ in chunk]
        _replace(session, line_ids)
        # Each line's intent by a CASE on the line id: an index lookup per line, where a
        # list of (line, intent) pairs would be a filter over every combination.
        on = and_(L.id.in_(line_ids), N.id == case(dict(chunk), value=L.id))
        session.execute(insert(MATCHES).from_select(TARGET, _candidates(scope, on, 3)))
    paired = {line_id for line_id, _ in pairs}
    notes = [
        {"line": line_id, "note": _note(found)}
        for line_id, found in sorted(by_line.items())
        if line_id not in paired
    ]
    if notes:
        session.execute(
            update(MATCHES)
            .where(MATCHES.c.line_id == bindparam("line"))
            .values(tier=4, note=bindparam("note")),
            notes,
        )


def _note(found: list[tuple[int, str]]) -> str:
    refs = ", ".join(sorted(ref for _, ref in found))
    return f"{len(found)} candidate(s): {refs}"[:300]


def refresh_missing(session: Session, scope: Scope, lag_hours: int) -> None:
    """Credited intents of the scope's days with no line: expected within the settlement lag
    (measured from the newest line the provider sent, not the clock: same inputs, same
    result), overdue after it."""
    covered = exists().where(R.intent_id == M.intent_id)
    session.execute(
        delete(M).where(
            or_(
                and_(
                    M.mutual_id == scope.mutual_id,
                    M.provider == scope.provider,
                    M.day.in_(scope.days),
                ),
                covered,
            ),
        )
    )
    horizon = session.scalar(
        select(func.max(D.newest_at)).where(
            D.mutual_id == scope.mutual_id, D.provider == scope.provider
        )
    )
    action = _lag_state(horizon, lag_hours)
    for day in scope.days:
        start = dt.datetime.combine(day, dt.time(), dt.UTC)
        credited = and_(
            N.mutual_id == scope.mutual_id,
            N.provider == scope.provider,
            N.state == IntentState.SUCCEEDED,
            N.payment_id.is_not(None),
            N.completed_at >= start,
            N.completed_at < start + dt.timedelta(days=1),
            ~exists().where(R.intent_id == N.id),
            ~exists().where(M.intent_id == N.id),
        )
        # Usually a few intents: read first, as PostgreSQL may run a SELECT's anti-join in
        # parallel but never an INSERT ... SELECT's; written in one statement past the bound.
        found = session.execute(select(N.id, action).where(credited).limit(MISSING_AT_ONCE + 1))
        rows = sorted(tuple(row) for row in found)
        if len(rows) > MISSING_AT_ONCE:
            query = select(N.mutual_id, N.provider, literal(day), N.id, action).where(credited)
            target = ("mutual_id", "provider", "day", "intent_id", "action")
            session.execute(insert(MISSING).from_select(target, query))
        elif rows:
            where = {"mutual_id": scope.mutual_id, "provider": scope.provider, "day": day}
            values = [{**where, "intent_id": i, "action": a} for i, a in rows]
            session.execute(insert(MISSING), values)


def _lag_state(horizon: dt.datetime | None, lag_hours: int) -> ColumnElement[str]:
    """`expected` while a credited intent is within the settlement lag of the provider's
    newest line, `overdue` after it. No line from the provider yet (no statement imported:
    the max of an empty set), or a lag reaching before any date: nothing is overdue."""
    if horizon is None:
        return literal("expected")
    try:
        cutoff = horizon - dt.timedelta(hours=lag_hours)
    except OverflowError:
        return literal("expected")
    return case((N.completed_at >= cutoff, "expected"), else_="overdue")
