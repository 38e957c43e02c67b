"""The rows of each exportable list (console.md: "CSV exports of any list run as a job"),
read in bounded batches inside the requester's scope (D27), oldest first.

Each list is the console page's query over a date range (the export's from/to days, UTC,
inclusive) with its filters (mutual, status, errors only), restricted by
`gateway.console.scope` exactly as the page is. Batches are keyset ranges on (time, id), so
an export of millions of rows holds one batch in memory and each query is an index range
scan. Phones are masked and PINs never stored (D27); amounts are whole XOF (D2). No Flask
here: the worker's export job reads through this module."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, or_, select, tuple_
from sqlalchemy.orm import InstrumentedAttribute, Session

from gateway.console.scope import Scope
from gateway.console.sessions import Filters as SessionFilters
from gateway.console.sessions import sessions_page
from gateway.lib.phones import mask_msisdn
from gateway.models import (
    Beneficiary,
    Export,
    IntentState,
    OperatorAction,
    OutboxMessage,
    PaymentIntent,
)
from gateway.services.messaging import UNDELIVERED

BATCH = 1000
INTENT_ERRORS = (IntentState.FAILED, IntentState.EXPIRED, IntentState.UNKNOWN)
SPREADSHEET_FORMULA = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Window:
    """The export's days as a half-open UTC range, and its filters."""

    start: dt.datetime
    end: dt.datetime
    mutual_id: int | None
    status: str
    errors: bool

    @classmethod
    def of(cls, export: Export) -> Window:
        filters = export.filters or {}
        mutual = filters.get("mutual_id")
        return cls(
            start=dt.datetime.combine(export.date_from, dt.time(), tzinfo=dt.UTC),
            end=dt.datetime.combine(
                export.date_to + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC
            ),
            mutual_id=int(mutual) if mutual is not None else None,
            status=str(filters.get("status") or ""),
            errors=bool(filters.get("errors")),
        )


def cell(value: object) -> str:
    """A CSV cell: ISO dates, and text that a spreadsheet would run as a formula quoted
    with a leading apostrophe (CSV injection)."""
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    text = str(value)
    if text.startswith(SPREADSHEET_FORMULA) and not _number_like(text):
        return f"'{text}"
    return text


def _number_like(text: str) -> bool:
    """`+22670****12`, `-500`: a (masked) phone or a number, which no spreadsheet runs."""
    rest = text[1:]
    return text[0] in "+-" and bool(rest) and all(c.isdigit() or c in "*. " for c in rest)


@dataclass(frozen=True)
class Listing:
    """One exportable list: its CSV header, its scoped query, its time and id columns, and a
    row renderer."""

    header: Sequence[str]
    query: Callable[[Scope, Window], Select[Any]]
    at: InstrumentedAttribute[Any]
    row_id: InstrumentedAttribute[int]
    render: Callable[[Any], Sequence[object]]


def keyset_batches(
    session: Session, listing: Listing, scope: Scope, window: Window
) -> Iterator[list[Any]]:
    """The list's rows in batches of BATCH, oldest first; each batch is expunged before the
    next is read, so memory stays bounded whatever the size."""
    query = listing.query(scope, window).order_by(listing.at, listing.row_id).limit(BATCH)
    last: tuple[Any, int] | None = None
    while True:
        page = query if last is None else query.where(tuple_(listing.at, listing.row_id) > last)
        rows = list(session.scalars(page))
        if not rows:
            return
        yield rows
        tail = rows[-1]
        last = (getattr(tail, listing.at.key), getattr(tail, listing.row_id.key))
        session.expunge_all()
        if len(rows) < BATCH:
            return


def _sms(scope: Scope, window: Window) -> Select[Any]:
    query = select(OutboxMessage).where(
        scope.condition(OutboxMessage),
        OutboxMessage.created_at >= window.start,
        OutboxMessage.created_at < window.end,
    )
    if window.mutual_id is not None:
        query = query.where(OutboxMessage.mutual_id == window.mutual_id)
    if window.status:
        query = query.where(OutboxMessage.status == window.status)
    if window.errors:
        query = query.where(
            or_(OutboxMessage.status.in_(UNDELIVERED), OutboxMessage.last_error.is_not(None))
        )
    return query


def _payments(scope: Scope, window: Window) -> Select[Any]:
    query = select(PaymentIntent).where(
        scope.condition(PaymentIntent),
        PaymentIntent.created_at >= window.start,
        PaymentIntent.created_at < window.end,
    )
    if window.mutual_id is not None:
        query = query.where(PaymentIntent.mutual_id == window.mutual_id)
    if window.status:
        query = query.where(PaymentIntent.state == window.status)
    if window.errors:
        query = query.where(
            or_(PaymentIntent.state.in_(INTENT_ERRORS), PaymentIntent.flag.is_not(None))
        )
    return query


def _audit(scope: Scope, window: Window) -> Select[Any]:
    query = select(OperatorAction).where(
        scope.condition(OperatorAction),
        OperatorAction.occurred_at >= window.start,
        OperatorAction.occurred_at < window.end,
    )
    if window.mutual_id is not None:
        query = query.where(OperatorAction.mutual_id == window.mutual_id)
    return query


def _members(scope: Scope, window: Window) -> Select[Any]:
    """Beneficiaries enrolled in the range (the register, D23), with their status."""
    query = select(Beneficiary).where(
        scope.condition(Beneficiary),
        Beneficiary.enrolled_on >= window.start.date(),
        Beneficiary.enrolled_on < window.end.date(),
    )
    if window.mutual_id is not None:
        query = query.where(Beneficiary.mutual_id == window.mutual_id)
    if window.status:
        query = query.where(Beneficiary.status == window.status)
    return query


LISTINGS: dict[str, Listing] = {
    "sms": Listing(
        (
            "id",
            "mutual_id",
            "household_id",
            "phone",
            "template",
            "language",
            "reason",
            "status",
            "attempts",
            "last_error",
            "created_at",
            "sent_at",
        ),
        _sms,
        OutboxMessage.created_at,
        OutboxMessage.id,
        lambda r: (
            r.id,
            r.mutual_id,
            r.household_id,
            mask_msisdn(r.phone),
            r.template,
            r.language,
            r.reason,
            r.status,
            r.attempts,
            r.last_error,
            r.created_at,
            r.sent_at,
        ),
    ),
    "payments": Listing(
        (
            "id",
            "mutual_id",
            "household_id",
            "reference",
            "provider",
            "phone",
            "amount",
            "state",
            "flag",
            "reason",
            "created_at",
            "completed_at",
        ),
        _payments,
        PaymentIntent.created_at,
        PaymentIntent.id,
        lambda r: (
            r.id,
            r.mutual_id,
            r.household_id,
            r.reference,
            r.provider,
            mask_msisdn(r.msisdn),
            r.amount,
            r.state,
            r.flag,
            r.reason,
            r.created_at,
            r.completed_at,
        ),
    ),
    "audit": Listing(
        (
            "id",
            "occurred_at",
            "user_id",
            "action",
            "object_type",
            "object_id",
            "reason",
            "mutual_id",
            "section_id",
        ),
        _audit,
        OperatorAction.occurred_at,
        OperatorAction.id,
        lambda r: (
            r.id,
            r.occurred_at,
            r.user_id,
            r.action,
            r.object_type,
            r.object_id,
            r.reason,
            r.mutual_id,
            r.section_id,
        ),
    ),
    "members": Listing(
        (
            "id",
            "mutual_id",
            "household_id",
            "number",
            "name",
            "sex",
            "birth_date",
            "relationship",
            "status",
            "enrolled_on",
            "left_on",
        ),
        _members,
        Beneficiary.enrolled_on,
        Beneficiary.id,
        lambda r: (
            r.id,
            r.mutual_id,
            r.household_id,
            r.number,
            r.full_name,
            r.sex,
            r.birth_date,
            r.relation,
            r.status,
            r.enrolled_on,
            r.left_on,
        ),
    ),
}
USSD_HEADER = (
    "provider",
    "session_id",
    "started_at",
    "hops",
    "phone",
    "service_code",
    "mutual_id",
    "status",
    "error",
    "apologies",
    "last_screen",
)


def header(list_name: str) -> Sequence[str]:
    return USSD_HEADER if list_name == "ussd" else LISTINGS[list_name].header


def rows(
    session: Session, list_name: str, scope: Scope, window: Window
) -> Iterator[Sequence[object]]:
    """Every row of the export, in batches underneath."""
    if list_name == "ussd":
        yield from _ussd_rows(session, scope, window)
        return
    listing = LISTINGS[list_name]
    for batch in keyset_batches(session, listing, scope, window):
        yield from (listing.render(row) for row in batch)


def _ussd_rows(session: Session, scope: Scope, window: Window) -> Iterator[Sequence[object]]:
    """The sessions of the console's /console/ussd page, through its own paged query."""
    filters = SessionFilters(
        since=window.start,
        until=window.end,
        mutual_id=window.mutual_id,
        status=window.status or None,
        errors=window.errors,
    )
    cursor: str | None = None
    while True:
        page = sessions_page(session, scope, filters, cursor, BATCH)
        for s in page.items:
            yield (
                s.provider,
                s.session_id,
                s.started_at,
                s.hops,
                s.phone_masked,
                s.service_code,
                s.mutual_id,
                s.status,
                s.error,
                s.apologies,
                s.last_screen,
            )
        if page.next is None:
            return
        cursor = page.next
