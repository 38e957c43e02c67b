"""The daily reconciliation report of one provider and mutual (payments.md): counts and sums
per bucket and tier, fees, the float's opening and closing balances against the statement,
and every exception. Built from stored rows only, sorted by natural keys, never by database
ids or the run's time: the same inputs give the same bytes."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from gateway.models import (
    LineStatus,
    Mutual,
    PaymentIntent,
    ReconMatch,
    ReconMissing,
    StatementDay,
    StatementLine,
    StatementRepeat,
    SuspenseItem,
)
from gateway.models.reconciliation import BUCKETS
from gateway.services import ledger

L, N, R, M, P = StatementLine, PaymentIntent, ReconMatch, ReconMissing, StatementRepeat
TIERS = ("1", "2", "3", "4", "none")


def build_report(session: Session, mutual: Mutual, provider: str, day: dt.date) -> dict[str, Any]:
    scopes = _scopes(mutual.id, provider, day)
    repeats = _repeats(session, mutual.id, provider, day)
    buckets, tiers, lines, intents = _counts(session, scopes, repeats)
    statement = _statement(session, mutual.id, provider, day)
    flt = _float(session, mutual.id, provider, day)
    exceptions = _exceptions(session, scopes, day)
    exceptions += _cross_day(session, mutual.id, provider, day)
    exceptions += [_repeated(repeat) for repeat in repeats]
    exceptions.sort(key=lambda e: (e["bucket"], e["key"]))
    difference = flt["closing"] - flt["opening"]
    explained = sum(int(e["effect"]) for e in exceptions)
    return {
        "mutual": mutual.code,
        "provider": provider,
        "day": day.isoformat(),
        "lines": lines,
        "intents": intents,
        # False: no statement line falls on the day (not imported yet, or nobody paid).
        "covered": statement["lines"] > 0,
        "buckets": buckets,
        "tiers": tiers,
        "statement": statement,
        "float": flt,
        "difference": difference,
        "explained": explained,
        "unexplained": difference - explained,
        "exceptions": exceptions,
    }


def _scopes(mutual_id: int, provider: str, day: dt.date) -> tuple[Any, Any]:
    """Filters of the day's line results, found through the lines' scope index, and of its
    missing intents (recon_missing's scope index)."""
    lines = and_(L.mutual_id == mutual_id, L.provider == provider, L.day == day)
    missing = and_(M.mutual_id == mutual_id, M.provider == provider, M.day == day)
    return lines, missing


def _counts(
    session: Session, scopes: tuple[Any, Any], repeats: list[StatementRepeat]
) -> tuple[dict[str, dict[str, int]], dict[str, int], int, int]:
    lines_in, missing_in = scopes
    columns = select(
        R.bucket,
        R.tier,
        func.count(),
        func.count(case((R.bucket != "duplicate", R.intent_id))),
        func.coalesce(func.sum(L.amount), 0),
    ).select_from(R)
    query = columns.join(L, L.id == R.line_id).where(lines_in).group_by(R.bucket, R.tier)
    buckets = {b: {"count": 0, "lines": 0, "intents": 0, "amount": 0} for b in BUCKETS}
    tiers = dict.fromkeys(TIERS, 0)
    for bucket, tier, count, intents, total in session.execute(query):
        row = buckets[bucket]
        row["count"] += count
        row["lines"] += count
        row["intents"] += intents
        row["amount"] += int(total)
        tiers[str(tier) if tier else "none"] += count
    missing = (
        select(func.count(), func.coalesce(func.sum(N.amount), 0))
        .select_from(M)
        .join(N, N.id == M.intent_id)
    )
    count, total = session.execute(missing.where(missing_in)).one()
    row = buckets["missing_in_statement"]
    row["count"] += count
    row["intents"] += count
    row["amount"] += int(total)
    row = buckets["duplicate"]  # lines repeated word for word in a file: no tier, no intent
    row["count"] += len(repeats)
    row["lines"] += len(repeats)
    row["amount"] += sum(repeat.amount for repeat in repeats)
    tiers["none"] += len(repeats)
    total_lines = sum(b["lines"] for b in buckets.values())
    total_intents = sum(b["intents"] for b in buckets.values())
    return buckets, tiers, total_lines, total_intents


def _statement(session: Session, mutual_id: int, provider: str, day: dt.date) -> dict[str, int]:
    """The day's statement lines, from the totals the import kept per file and day."""
    D = StatementDay
    query = select(
        func.coalesce(func.sum(D.lines), 0),
        func.coalesce(func.sum(D.paid), 0),
        func.coalesce(func.sum(D.collected), 0),
        func.coalesce(func.sum(D.fees), 0),
    ).where(D.mutual_id == mutual_id, D.provider == provider, D.day == day)
    count, paid, collected, fees = (int(value) for value in session.execute(query).one())
    return {
        "lines": count,
        "collected": collected,
        "failed_lines": count - paid,
        "fees": fees,
        "net": collected - fees,
    }


def _float(session: Session, mutual_id: int, provider: str, day: dt.date) -> dict[str, int]:
    account = ledger.accounts.provider_float(provider)
    opening = ledger.balance(session, mutual_id, account, as_of=day - dt.timedelta(days=1))
    closing = ledger.balance(session, mutual_id, account, as_of=day)
    return {"opening": opening, "closing": closing, "movement": closing - opening}


def _exceptions(session: Session, scopes: tuple[Any, Any], day: dt.date) -> list[dict[str, Any]]:
    """Every result that is not a plain match, with its effect on the day's float: what the
    ledger booked for it on the day minus what the statement says was collected."""
    lines_in, missing_in = scopes
    found = []
    query = (
        select(R, L, N, SuspenseItem)
        .join(L, L.id == R.line_id)
        .outerjoin(N, N.id == R.intent_id)
        .outerjoin(SuspenseItem, SuspenseItem.id == R.suspense_id)
    )
    for result, line, intent, held in session.execute(query.where(lines_in, R.bucket != "matched")):
        found.append(_exception(result, line, intent, held, day))
    missing = select(M, N).join(N, N.id == M.intent_id).where(missing_in)
    for row, intent in session.execute(missing):
        found.append(_exception(row, None, intent, None, day))
    return found


def _exception(
    result: ReconMatch | ReconMissing,
    line: StatementLine | None,
    intent: PaymentIntent | None,
    held: SuspenseItem | None,
    day: dt.date,
) -> dict[str, Any]:
    collected = line.amount if line is not None and line.status == LineStatus.SUCCEEDED else 0
    booked = 0
    if held is not None and held.ledger_key and held.received_on == day:
        booked += held.amount
    credited = intent is not None and intent.payment_id is not None
    if credited and result.bucket != "duplicate" and _on(intent, day):
        booked += intent.amount if intent is not None else 0
    if line is not None:
        key = line.natural_key
    else:
        key = f"ref:{intent.reference}" if intent is not None else "-"
    return {
        "bucket": result.bucket,
        "key": key,
        "reference": (line.reference if line is not None else None)
        or (intent.reference if intent is not None else None),
        "tier": result.tier,
        "status": line.status if line is not None else None,
        "amount": line.amount if line is not None else (intent.amount if intent else 0),
        "intent_amount": intent.amount if intent is not None else None,
        "action": result.action,
        "suspense": held.state if held is not None else None,
        "note": result.note,
        "effect": booked - collected,
    }


def _repeats(
    session: Session, mutual_id: int, provider: str, day: dt.date
) -> list[StatementRepeat]:
    query = select(P).where(P.mutual_id == mutual_id, P.provider == provider, P.day == day)
    return list(session.scalars(query))


def _repeated(repeat: StatementRepeat) -> dict[str, Any]:
    """A line the export listed twice: skipped at import, so it moved no money (effect 0).
    Named by its natural key and copy, never by file or line number: a reordered file gives
    the same report."""
    return {
        "bucket": "duplicate",
        "key": f"{repeat.natural_key}#{repeat.occurrence}",
        "reference": repeat.reference,
        "tier": None,
        "status": repeat.status,
        "amount": repeat.amount,
        "intent_amount": None,
        "action": "skipped",
        "suspense": None,
        "note": "the same line again in a statement file",
        "effect": 0,
    }


def _on(intent: PaymentIntent | None, day: dt.date) -> bool:
    return bool(intent and intent.completed_at and intent.completed_at.date() == day)


def _cross_day(
    session: Session, mutual_id: int, provider: str, day: dt.date
) -> list[dict[str, Any]]:
    """Matched lines and credited intents on different days (a payment near midnight): the
    money is booked one day and on the statement the next."""
    start = dt.datetime.combine(day, dt.time(), dt.UTC)
    end = start + dt.timedelta(days=1)
    matched = and_(
        R.mutual_id == mutual_id,
        R.provider == provider,
        R.bucket == "matched",
        N.payment_id.is_not(None),
    )
    query = (
        select(L.natural_key, L.day, L.amount, N.reference, N.amount, N.completed_at)
        .join(R, R.line_id == L.id)
        .join(N, N.id == R.intent_id)
        .where(matched, L.status == LineStatus.SUCCEEDED)
        .where(
            ((L.day == day) & ((N.completed_at < start) | (N.completed_at >= end)))
            | ((L.day != day) & (N.completed_at >= start) & (N.completed_at < end))
        )
    )
    found = []
    for key, line_day, paid, reference, asked, completed in session.execute(query):
        mine = line_day == day
        found.append(
            {
                "bucket": "matched",
                "key": key,
                "reference": reference,
                "tier": None,
                "status": LineStatus.SUCCEEDED,
                "amount": paid,
                "intent_amount": asked,
                "action": "other_day",
                "suspense": None,
                "note": f"line of {line_day.isoformat()}, booked {_day(completed)}",
                "effect": -paid if mine else asked,
            }
        )
    return found


def _day(moment: dt.datetime | None) -> str:
    return moment.date().isoformat() if moment else "-"


def as_json(report: dict[str, Any]) -> str:
    return json.dumps(report, sort_keys=True, indent=2)


def as_text(report: dict[str, Any]) -> str:
    out = [
        f"Reconciliation {report['mutual']} / {report['provider']} / {report['day']}",
        f"statement lines {report['lines']}, intents {report['intents']}",
    ]
    if not report["covered"]:
        out.append(f"no statement covers {report['day']}: nothing matched")
    out.append(f"{'bucket':<22}{'count':>7}{'lines':>7}{'intents':>9}{'amount':>14}")
    for name in BUCKETS:
        b = report["buckets"][name]
        row = f"{b['count']:>7}{b['lines']:>7}{b['intents']:>9}{b['amount']:>14}"
        out.append(f"{name:<22}{row}")
    out.append("tiers: " + "  ".join(f"{k}={v}" for k, v in report["tiers"].items()))
    s, f = report["statement"], report["float"]
    out.append(
        f"statement: collected {s['collected']} XOF, fees {s['fees']}, net {s['net']}, "
        f"failed lines {s['failed_lines']}"
    )
    out.append(f"float: opening {f['opening']}, closing {f['closing']}, movement {f['movement']}")
    out.append(
        f"difference {report['difference']} (explained {report['explained']}, "
        f"unexplained {report['unexplained']})"
    )
    out.append(f"exceptions: {len(report['exceptions'])}")
    for e in report["exceptions"]:
        ref = e["reference"] or "-"
        out.append(
            f"  {e['bucket']:<20} {e['key']:<30} ref {ref} amount {e['amount']} "
            f"action {e['action'] or '-'} effect {e['effect']}"
            + (f" ({e['note']})" if e["note"] else "")
        )
    return "\n".join(out) + "\n"
