"""A household's ONE timeline (console.md, issue 16): USSD hops and session ends (by the
keyed hash of its phones), SMS to its phones, payment intents with their provider events,
payments without an intent (cash, imports) with their ledger postings, reminders, cash
collections, operator actions on the household and its membership events (D23,
household_events), newest first.

Keyset paging across sources: the order is (at, source rank, id), descending; the cursor is
the last item's triple. Each source is one query bounded by the cursor and LIMIT page + 1 on
its own (at, id), so a page reads at most (sources x (page + 1)) rows whatever the history's
length; the pages are merged in Python (a k-way merge) and cut to the page. Details (events,
postings) are read afterwards for the page's items only."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, select, tuple_
from sqlalchemy.orm import InstrumentedAttribute, Session, joinedload

from gateway.lib.phones import phone_key
from gateway.models import (
    Account,
    CashCollection,
    Household,
    HouseholdEvent,
    LedgerEntry,
    LedgerTransaction,
    OperatorAction,
    OutboxMessage,
    Payment,
    PaymentEvent,
    PaymentIntent,
    ReminderOccurrence,
    UssdHop,
    UssdSessionEvent,
)

PAGE_SIZE = 50
HOUSEHOLD_OBJECT = "household"  # operator_actions.object_type of actions on a household


class BadCursor(ValueError):
    """A cursor this code did not write."""


@dataclass(frozen=True)
class Cursor:
    at: dt.datetime
    rank: int
    row_id: int

    def encode(self) -> str:
        raw = f"{self.at.astimezone(dt.UTC).isoformat()}|{self.rank}|{self.row_id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
            at, rank, row_id = raw.split("|")
            moment = dt.datetime.fromisoformat(at)
            if moment.tzinfo is None:
                raise ValueError(at)
            return cls(moment, int(rank), int(row_id))
        except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
            raise BadCursor(text) from exc


@dataclass
class Item:
    """One timeline entry: `kind` names its source, `row` is the source's row."""

    at: dt.datetime
    rank: int
    row_id: int
    kind: str
    row: Any
    details: list[Any] = field(default_factory=list)  # events, postings, a session's hops

    @property
    def key(self) -> tuple[dt.datetime, int, int]:
        return (_utc(self.at), self.rank, self.row_id)


@dataclass(frozen=True)
class TimelinePage:
    items: Sequence[Item]
    next: str | None


@dataclass(frozen=True)
class Source:
    """One query of the timeline: its kind, rank (the tie-break between sources at the same
    instant), the entity selected, and its time and id columns."""

    kind: str
    rank: int
    query: Select[Any]
    at: InstrumentedAttribute[dt.datetime]
    row_id: InstrumentedAttribute[int]
    # A second query of the same rows by another index (an OR of two indexed conditions
    # cannot be read in order from either index: PostgreSQL would fetch every match, e.g. the
    # thousands of SMS of a busy household, to sort them); the two pages are merged.
    also: Select[Any] | None = None


def _utc(moment: dt.datetime) -> dt.datetime:
    """SQLite gives naive UTC datetimes back: the merge compares aware ones."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def sources(household: Household, phones: Iterable[str], secret: str) -> list[Source]:
    """The household's sources; the USSD ones by its phones' keys, inside its mutual."""
    return [*_sources(household, phones, secret), *_household_events(household)]


def _household_events(household: Household) -> list[Source]:
    """Membership events (D23): enrolments, departures, suspensions... as recorded."""
    query = select(HouseholdEvent).where(HouseholdEvent.household_id == household.id)
    return [Source("household_event", 9, query, HouseholdEvent.recorded_at, HouseholdEvent.id)]


def _sources(household: Household, phones: Iterable[str], secret: str) -> list[Source]:
    msisdns = sorted(set(phones))
    keys = [phone_key(secret, p) for p in msisdns]
    h, mutual = household.id, household.mutual_id
    # A payment an intent made is shown with its intent: one probe of the intents' payment_id
    # index per payment (reading the household's intents to exclude theirs fetched them all)
    from_intent = exists().where(PaymentIntent.payment_id == Payment.id)
    return [
        Source(
            "hop",
            1,
            select(UssdHop).where(UssdHop.phone_key.in_(keys), UssdHop.mutual_id == mutual),
            UssdHop.created_at,
            UssdHop.id,
        ),
        Source(
            "session_end",
            2,
            select(UssdSessionEvent).where(
                UssdSessionEvent.phone_key.in_(keys), UssdSessionEvent.mutual_id == mutual
            ),
            UssdSessionEvent.received_at,
            UssdSessionEvent.id,
        ),
        Source(
            "sms",
            3,
            select(OutboxMessage).where(
                OutboxMessage.mutual_id == mutual, OutboxMessage.phone.in_(msisdns)
            ),
            OutboxMessage.created_at,
            OutboxMessage.id,
            also=select(OutboxMessage).where(
                OutboxMessage.mutual_id == mutual, OutboxMessage.household_id == h
            ),
        ),
        Source(
            "intent",
            4,
            select(PaymentIntent).where(PaymentIntent.household_id == h),
            PaymentIntent.created_at,
            PaymentIntent.id,
        ),
        Source(
            "payment",
            5,
            select(Payment).where(Payment.household_id == h, ~from_intent),
            Payment.created_at,
            Payment.id,
        ),
        Source(
            "reminder",
            6,
            select(ReminderOccurrence).where(ReminderOccurrence.household_id == h),
            ReminderOccurrence.created_at,
            ReminderOccurrence.id,
        ),
        Source(
            "cash",
            7,
            select(CashCollection)
            .where(CashCollection.household_id == h)
            .options(joinedload(CashCollection.agent)),  # its name is shown
            CashCollection.collected_at,
            CashCollection.id,
        ),
        Source(
            "action",
            8,
            select(OperatorAction).where(
                OperatorAction.object_type == HOUSEHOLD_OBJECT,
                OperatorAction.object_id == str(h),
            ),
            OperatorAction.occurred_at,
            OperatorAction.id,
        ),
    ]


def _after(source: Source, cursor: Cursor | None) -> ColumnElement[bool] | None:
    """The rows of `source` strictly after `cursor` in the order (at desc, rank desc, id desc)."""
    if cursor is None:
        return None
    if source.rank < cursor.rank:
        return source.at <= cursor.at
    if source.rank > cursor.rank:
        return source.at < cursor.at
    return tuple_(source.at, source.row_id) < tuple_(cursor.at, cursor.row_id)


def _read(
    session: Session,
    source: Source,
    cursor: Cursor | None,
    size: int,
    floor: dt.datetime | None = None,
) -> list[Item]:
    """The source's first size + 1 rows after `cursor` and not before `floor` (of both its
    queries, each read in order on its own index, merged without the rows both found)."""
    found: dict[int, Item] = {}
    for query in (source.query, source.also):
        if query is None:
            continue
        bound = _after(source, cursor)
        if bound is not None:
            query = query.where(bound)
        if floor is not None:
            query = query.where(source.at >= floor)
        query = query.order_by(source.at.desc(), source.row_id.desc()).limit(size + 1)
        for row in session.scalars(query):
            item = Item(
                getattr(row, source.at.key),
                source.rank,
                getattr(row, source.row_id.key),
                source.kind,
                row,
            )
            found.setdefault(item.row_id, item)
    items = list(found.values())
    if source.also is not None:
        items.sort(key=lambda item: item.key, reverse=True)
    return items[: size + 1]


def timeline_page(
    session: Session,
    household: Household,
    phones: Iterable[str],
    secret: str,
    cursor: str | None,
    size: int = PAGE_SIZE,
) -> TimelinePage:
    """One page of the household's timeline after `cursor` (None: the newest)."""
    after = Cursor.decode(cursor) if cursor else None
    pages: list[list[Item]] = []
    floor = None
    for source in sources(household, phones, secret):
        pages.append(_read(session, source, after, size, floor))
        floor = _floor(pages, size)
    merged = list(heapq.merge(*pages, key=lambda item: item.key, reverse=True))
    items = merged[:size]
    more = len(merged) > size
    last = items[-1] if items else None
    _attach_details(session, household, items)
    following = Cursor(last.at, last.rank, last.row_id).encode() if more and last else None
    return TimelinePage(fold_sessions(items), following)


def _floor(pages: list[list[Item]], size: int) -> dt.datetime | None:
    """Once the sources read hold size + 1 items, no row older than the (size + 1)-th newest
    can be on the page or decide whether a next one exists: the later sources are read from
    that moment on (inclusive: ties are ordered by rank and id). A busy household's later
    sources then read the few rows of the hours its newest hops span, not a page each (and
    its payments are not probed back to the first one for an intent that made them)."""
    newest = heapq.nlargest(size + 1, (i.key for page in pages for i in page))
    return newest[-1][0] if len(newest) > size else None


def fold_sessions(items: list[Item]) -> list[Item]:
    """Consecutive hops of one USSD session become one `session` entry (its hops inside,
    oldest first), headed by the newest: a session reads as one line of the timeline."""
    folded: list[Item] = []
    for item in items:
        previous = folded[-1] if folded else None
        if item.kind == "hop":
            if previous is not None and previous.kind == "session" and _same(previous, item):
                previous.details.insert(0, item.row)
                continue
            folded.append(Item(item.at, item.rank, item.row_id, "session", item.row, [item.row]))
            continue
        folded.append(item)
    return folded


def _same(session_item: Item, hop: Item) -> bool:
    first = session_item.row
    return bool(first.provider == hop.row.provider and first.session_id == hop.row.session_id)


# --- details of the page's items only ----------------------------------------------------


def _attach_details(session: Session, household: Household, items: list[Item]) -> None:
    intents = [i for i in items if i.kind == "intent"]
    payments = [i for i in items if i.kind == "payment"]
    if intents:
        _events(session, intents)
    paid_ids = [i.row.payment_id for i in intents if i.row.payment_id is not None]
    paid_ids += [i.row.id for i in payments]
    if not paid_ids:
        return
    postings = _postings(session, household.mutual_id, paid_ids)
    for item in intents:
        item.details.extend(postings.get(item.row.payment_id or 0, []))
    for item in payments:
        item.details.extend(postings.get(item.row.id, []))


def _events(session: Session, intents: list[Item]) -> None:
    by_id = {i.row.id: i for i in intents}
    query = (
        select(PaymentEvent)
        .where(PaymentEvent.intent_id.in_(by_id))
        .order_by(PaymentEvent.received_at, PaymentEvent.id)
    )
    for event in session.scalars(query):
        by_id[event.intent_id].details.append(event)


@dataclass(frozen=True)
class Posting:
    """One line of a ledger transaction: the account and the signed amount."""

    transaction: str
    kind: str
    account: str
    amount: int


def _postings(session: Session, mutual_id: int, payment_ids: list[int]) -> dict[int, list[Posting]]:
    """The ledger lines of these payments (each recorded under its `ledger_key`), by payment:
    one statement."""
    query = (
        select(
            Payment.id,
            LedgerTransaction.idempotency_key,
            LedgerTransaction.kind,
            Account.name,
            LedgerEntry.amount,
        )
        .join(
            LedgerTransaction,
            and_(
                LedgerTransaction.mutual_id == mutual_id,
                LedgerTransaction.idempotency_key == Payment.ledger_key,
            ),
        )
        .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
        .join(Account, Account.id == LedgerEntry.account_id)
        .where(Payment.id.in_(payment_ids))
        .order_by(LedgerTransaction.id, LedgerEntry.id)
    )
    found: dict[int, list[Posting]] = {}
    for payment_id, key, kind, account, amount in session.execute(query):
        found.setdefault(payment_id, []).append(Posting(key, kind, account, int(amount)))
    return found
