"""D17 for reminders: each (household, campaign, rule, occurrence) row is inserted with ON
CONFLICT DO NOTHING before its SMS is queued in the same transaction, so a second run or a
concurrent worker sends nothing twice. A `Due` pairs a target with an occurrence of one
campaign's rule: campaign anchors share one occurrence, `coverage_end` rules have one per
household.

D15's "at most one campaign reminder a day" is held by the database, not by this process: every
row carries the mutual's local date (`sent_on`) and a partial unique index allows one 'sent' row
per household and date. ON CONFLICT DO NOTHING (no conflict target) covers both keys; an item
that lost on the daily key is then recorded 'skipped', one that lost on the occurrence key was
recorded by a concurrent run and is left alone."""

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
GRACE_TEMPLATE = "coverage_grace"
Key = tuple[int, int, int, int]  # household, campaign, rule, occurrence


@dataclass(frozen=True)
class Occurrence:
    index: int  # n-th repeat for campaign anchors; the day's ordinal for coverage_end
    due_at: dt.datetime  # UTC
    day: dt.date


@dataclass(frozen=True, slots=True)
class Due:
    target: Target
    occurrence: Occurrence
    campaign: Campaign
    rule: ReminderRule

    @property
    def key(self) -> Key:
        return (
            self.target.household_id,
            self.campaign.id,
            self.rule.id,
            self.occurrence.index,
        )


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
    session: Session, rows: Sequence[tuple[Due, str]], day: dt.date, now: dt.datetime
) -> dict[Key, int]:
    """Insert (item, status) rows, `day` as their sent_on; a row conflicting with any unique
    key (the occurrence already recorded, or a 'sent' row of the same household and day) is
    not inserted. Returns the key -> row id of the rows inserted here."""
    table = cast(Table, ReminderOccurrence.__table__)
    insert_ = (
        postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    )
    stmt = (
        insert_(table)
        .on_conflict_do_nothing()
        .returning(
            table.c.household_id,
            table.c.campaign_id,
            table.c.rule_id,
            table.c.occurrence,
            table.c.id,
        )
    )
    inserted: dict[Key, int] = {}
    for chunk in chunks(rows, BULK):
        values = [
            {
                "household_id": due.target.household_id,
                "campaign_id": due.campaign.id,
                "rule_id": due.rule.id,
                "occurrence": due.occurrence.index,
                "due_at": due.occurrence.due_at,
                "status": status,
                "outbox_id": None,
                "created_at": now,
                "sent_on": day,
            }
            for due, status in chunk
        ]
        # executemany with RETURNING (SQLAlchemy's insertmanyvalues): compiled once.
        found = session.execute(stmt, values)
        inserted.update({(hid, cid, rid, occ): row for hid, cid, rid, occ, row in found})
    return inserted


def record(
    session: Session, items: Sequence[Due], status: str, day: dt.date, now: dt.datetime
) -> int:
    """Record items of one campaign's rule not yet recorded (e.g. 'missed'); how many were."""
    if not items:
        return 0
    todo = unrecorded(session, items[0].campaign, items[0].rule, items)
    return len(insert(session, [(d, status) for d in todo], day, now))


def params(
    mutual: Mutual, campaign: Campaign, rule: ReminderRule, target: Target
) -> dict[str, str]:
    """The template's placeholders: `amount`/`due` are the amount offered (D6b, a campaign for
    the period being open or announced: the amount due, else the renewal), `opens` and
    `closes` the campaign's days, `until` the coverage end for coverage_end rules, else the
    campaign's closing day."""
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
        "opens": formatting.day(campaign.opens_on),
        "closes": closes,
        "until": until,
    }


def grace_end(
    campaign: Campaign, rule: ReminderRule, target: Target, today: dt.date
) -> dt.date | None:
    """D10/D15: the end of grace when a coverage_end reminder goes to a household in GRACE
    today (its latest paid period ended, within the product's grace_days, and nothing paid
    after it, since coverage_end is the end of its latest paid period); else None."""
    if rule.anchor != "coverage_end" or target.coverage_end is None:
        return None
    end = target.coverage_end + dt.timedelta(days=campaign.product.grace_days)
    return end if target.coverage_end < today <= end else None


def wording(mutual: Mutual, due: Due, today: dt.date) -> tuple[str, dict[str, str]]:
    """(template, params): the rule's own, except that a household in grace (D15) is told it
    stays covered until the end of grace and that paying by then means no new waiting."""
    values = params(mutual, due.campaign, due.rule, due.target)
    until = grace_end(due.campaign, due.rule, due.target, today)
    if until is None:
        return due.rule.template, values
    return GRACE_TEMPLATE, {**values, "until": formatting.day(until)}


def queue(
    session: Session,
    mutual: Mutual,
    won: Sequence[tuple[Due, int]],
    today: dt.date,
    now: dt.datetime,
) -> int:
    """Queue the SMS of the items just recorded 'sent' (with their row id); returns how many
    were queued. Messages are inserted in bulk: their dedupe keys derive from rows
    just inserted here, so none can exist yet, and ON CONFLICT on the key keeps even that case
    at most once. A message queue_sms would refuse leaves its row 'skipped'."""
    messages: list[dict[str, object]] = []
    refused: list[int] = []
    for due, row_id in won:
        try:
            messages.append(_message(mutual, due, row_id, today, now))
        except ValueError:
            log.exception("reminder for household %s not queued", due.target.household_id)
            refused.append(row_id)
    links = _insert_messages(session, messages)
    _link(session, links, refused)
    return len(links)


def _message(
    mutual: Mutual, due: Due, row_id: int, today: dt.date, now: dt.datetime
) -> dict[str, object]:
    """One outbox row as queue_sms would write it (ValueError when it would refuse it)."""
    target = due.target
    phone = target.phone or ""
    if not (phone.startswith("+") and phone[1:].isdigit()):
        raise ValueError(f"phone must be E.164, not {phone!r}")
    template, values = wording(mutual, due, today)
    text = render_sms(template, target.language, values)
    if room_left(text) < 0:
        raise ValueError(f"SMS {template!r} ({target.language}) is over one segment")
    key = f"reminder:{target.household_id}:{due.campaign.id}:{due.rule.id}:{due.occurrence.index}"
    return {
        "row_id": row_id,
        "mutual_id": mutual.id,
        "household_id": target.household_id,
        "phone": phone,
        "template": template,
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
