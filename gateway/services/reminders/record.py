"""D17 for reminders: each (household, campaign, rule, occurrence) row is inserted with ON
CONFLICT DO NOTHING before its SMS is queued in the same transaction, so a second run or a
concurrent worker sends nothing twice. A `Due` pairs a target with its occurrence: campaign
anchors share one occurrence, `coverage_end` rules have one per household."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gateway.lib import formatting
from gateway.models import (
    Campaign,
    Mutual,
    OutboxMessage,
    OutboxStatus,
    ReminderOccurrence,
    ReminderRule,
)
from gateway.services.messaging import render_sms, room_left
from gateway.services.reminders.targets import Target, chunks

log = logging.getLogger(__name__)
BULK = 5000  # rows per executemany


@dataclass(frozen=True)
class Occurrence:
    index: int  # n-th repeat for campaign anchors; the day's ordinal for coverage_end
    due_at: dt.datetime  # UTC
    day: dt.date


@dataclass(frozen=True)
class Due:
    target: Target
    occurrence: Occurrence


def unrecorded(
    session: Session, campaign: Campaign, rule: ReminderRule, items: Sequence[Due]
) -> list[Due]:
    """The items with no row yet (checked in bulk, per occurrence index)."""
    indexes = sorted({d.occurrence.index for d in items})
    recorded: set[tuple[int, int]] = set()
    for chunk in chunks(indexes):
        rows = session.execute(
            select(ReminderOccurrence.household_id, ReminderOccurrence.occurrence).where(
                ReminderOccurrence.campaign_id == campaign.id,
                ReminderOccurrence.rule_id == rule.id,
                ReminderOccurrence.occurrence.in_(chunk),
            )
        )
        recorded.update((hid, occ) for hid, occ in rows)
    return [d for d in items if (d.target.household_id, d.occurrence.index) not in recorded]


def insert(
    session: Session,
    campaign: Campaign,
    rule: ReminderRule,
    rows: Sequence[tuple[Due, str]],
    now: dt.datetime,
) -> dict[tuple[int, int], int]:
    """Insert (item, status) rows not yet recorded; a concurrent run's rows win. Returns
    (household id, occurrence) -> row id of the rows inserted here."""
    table = cast(Table, ReminderOccurrence.__table__)
    insert_ = (
        postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    )
    stmt = (
        insert_(table)
        .on_conflict_do_nothing(
            index_elements=["household_id", "campaign_id", "rule_id", "occurrence"]
        )
        .returning(table.c.household_id, table.c.occurrence, table.c.id)
    )
    inserted: dict[tuple[int, int], int] = {}
    for chunk in chunks(rows, BULK):
        values = [
            {
                "household_id": due.target.household_id,
                "campaign_id": campaign.id,
                "rule_id": rule.id,
                "occurrence": due.occurrence.index,
                "due_at": due.occurrence.due_at,
                "status": status,
                "outbox_id": None,
                "created_at": now,
            }
            for due, status in chunk
        ]
        # executemany with RETURNING (SQLAlchemy's insertmanyvalues): compiled once.
        found = session.execute(stmt, values)
        inserted.update({(hid, occ): rid for hid, occ, rid in found})
    return inserted


def record(
    session: Session,
    campaign: Campaign,
    rule: ReminderRule,
    items: Sequence[Due],
    status: str,
    now: dt.datetime,
) -> int:
    todo = unrecorded(session, campaign, rule, items)
    return len(insert(session, campaign, rule, [(d, status) for d in todo], now))


def params(
    mutual: Mutual, campaign: Campaign, rule: ReminderRule, target: Target
) -> dict[str, str]:
    """The template's placeholders: `amount`/`due` are the D6 amount due, `until` the
    coverage end for coverage_end rules, else the campaign's closing day."""
    amount = formatting.money(target.due, target.language)
    closes = formatting.day(campaign.closes_on)
    until = closes
    if rule.anchor == "coverage_end" and target.coverage_end is not None:
        until = formatting.day(target.coverage_end)
    return {
        "mutual": mutual.sms_name,
        "campaign": campaign.name,
        "household": target.number,
        "amount": amount,
        "due": amount,
        "closes": closes,
        "until": until,
    }


def send(
    session: Session,
    mutual: Mutual,
    campaign: Campaign,
    rule: ReminderRule,
    items: Sequence[Due],
    now: dt.datetime,
) -> tuple[int, int]:
    """Record then queue each item not yet recorded; returns (queued, skipped for no phone).
    Messages are inserted in bulk: their dedupe keys derive from rows just inserted here, so
    none can exist yet, and ON CONFLICT on the key keeps even that case at most once."""
    todo = unrecorded(session, campaign, rule, items)
    rows = [(d, "sent" if d.target.phone else "skipped") for d in todo]
    inserted = insert(session, campaign, rule, rows, now)
    won = [d for d in todo if (d.target.household_id, d.occurrence.index) in inserted]
    no_phone = sum(1 for d in won if d.target.phone is None)
    messages: list[dict[str, object]] = []
    refused: list[int] = []
    for due in won:
        row_id = inserted[(due.target.household_id, due.occurrence.index)]
        if due.target.phone is None:
            continue
        try:
            messages.append(_message(mutual, campaign, rule, due, row_id, now))
        except ValueError:
            log.exception("reminder for household %s not queued", due.target.household_id)
            refused.append(row_id)
    links = _insert_messages(session, messages)
    _link(session, links, refused)
    return len(links), no_phone


def _message(
    mutual: Mutual, campaign: Campaign, rule: ReminderRule, due: Due, row_id: int, now: dt.datetime
) -> dict[str, object]:
    """One outbox row as queue_sms would write it (ValueError when it would refuse it)."""
    target = due.target
    phone = target.phone or ""
    if not (phone.startswith("+") and phone[1:].isdigit()):
        raise ValueError(f"phone must be E.164, not {phone!r}")
    text = render_sms(rule.template, target.language, params(mutual, campaign, rule, target))
    if room_left(text) < 0:
        raise ValueError(f"SMS {rule.template!r} ({target.language}) is over one segment")
    key = f"reminder:{target.household_id}:{campaign.id}:{rule.id}:{due.occurrence.index}"
    return {
        "row_id": row_id,
        "mutual_id": mutual.id,
        "household_id": target.household_id,
        "phone": phone,
        "template": rule.template,
        "language": target.language,
        "text": text,
        "reason": "reminder",
        "status": OutboxStatus.QUEUED,
        "attempts": 0,
        "dedupe_key": key,
        "created_at": now,
        "updated_at": now,
    }


def _insert_messages(session: Session, messages: list[dict[str, object]]) -> dict[int, int]:
    """Occurrence row id -> outbox id of the messages inserted."""
    table = cast(Table, OutboxMessage.__table__)
    insert_ = (
        postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    )
    stmt = (
        insert_(table)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(table.c.dedupe_key, table.c.id)
    )
    links: dict[int, int] = {}
    for chunk in chunks(messages, BULK):
        by_key = {str(m["dedupe_key"]): int(str(m["row_id"])) for m in chunk}
        values = [{k: v for k, v in m.items() if k != "row_id"} for m in chunk]
        found = session.execute(stmt, values)
        links.update({by_key[str(key)]: mid for key, mid in found})
    return links


def _link(session: Session, links: dict[int, int], refused: list[int]) -> None:
    """Point each occurrence row at its message (executemany of one small statement, which
    psycopg pipelines and prepares once); a refused message leaves its row skipped."""
    if links:
        session.execute(
            update(ReminderOccurrence), [{"id": r, "outbox_id": m} for r, m in links.items()]
        )
    for part in chunks(refused):
        session.execute(
            update(ReminderOccurrence)
            .where(ReminderOccurrence.id.in_(part))
            .values(status="skipped")
            .execution_options(synchronize_session=False)
        )
