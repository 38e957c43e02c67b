"""`/console/payments`: the scope's payment intents with their states and flags, the stuck ones
first (gateway.services.payments.stuck: the sweeper's terms), then all of them newest first,
keyset-paged on (created_at, id) inside a date window (default: the last 30 days); filters:
mutual, section, state, errors only (failed, expired, unknown or flagged). Held payments
(issue 14) are listed with a "release" for finance: the service of `gateway payments release`,
a reason required, one `operator_actions` row (D27). `/console/payments/<id>`: one intent with
its provider events and its ledger postings (console.md, payments.md)."""

from __future__ import annotations

import datetime as dt

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import selectinload

from gateway.console.i18n import text
from gateway.console.pages.filtering import Filters, choices, read_filters
from gateway.console.pages.opsforms import reason_given, where_of
from gateway.console.paging import BadCursor, Page, keyset_page
from gateway.console.views import actor, console_view, get_or_404, operator, scoped
from gateway.handlers import request_session, runtime
from gateway.models import (
    IntentState,
    LedgerEntry,
    LedgerTransaction,
    Payment,
    PaymentEvent,
    PaymentIntent,
    Role,
)
from gateway.services.coverage import NotHeld, release_payment
from gateway.services.operators import record_action
from gateway.services.payments import ABANDONED, abandoned_intents, is_stuck, why_stuck

WINDOW = dt.timedelta(days=30)
STUCK_LIMIT = HELD_LIMIT = 100  # each a short list a person works through; bounded anyway
RELEASERS = (Role.FINANCE,)
STATES = tuple(s.value for s in IntentState)
ERRORS = (IntentState.FAILED, IntentState.EXPIRED, IntentState.UNKNOWN)


@console_view("/payments")
def payments() -> ResponseReturnValue:
    db = request_session()
    now = runtime().clock.now()
    filters = read_filters(now, WINDOW, STATES)
    try:
        page: Page[PaymentIntent] = keyset_page(
            db,
            _listed(filters),
            PaymentIntent.created_at,
            PaymentIntent.id,
            request.args.get("after"),
        )
    except BadCursor:
        abort(400, "bad page cursor")
    first = not request.args.get("after")  # stuck and held lead the first page only
    return render_template(
        "console/payments.html",
        page=page,
        stuck=_stuck(filters, now) if first else [],
        held=_held(filters) if first else [],
        filters=filters,
        statuses=STATES,
        can_release=operator().role in RELEASERS,
        **choices(db, filters),
    )


def _scoped(filters: Filters) -> Select[PaymentIntent]:
    query = scoped(select(PaymentIntent), PaymentIntent).options(
        selectinload(PaymentIntent.household)
    )
    return filters.section(filters.mutual(query, PaymentIntent), PaymentIntent)


def _listed(filters: Filters) -> Select[PaymentIntent]:
    query = filters.window(_scoped(filters), PaymentIntent.created_at)
    if filters.status:
        query = query.where(PaymentIntent.state == filters.status)
    if filters.errors:
        query = query.where(or_(PaymentIntent.state.in_(ERRORS), PaymentIntent.flag.is_not(None)))
    return query


def _stuck(filters: Filters, now: dt.datetime) -> list[tuple[PaymentIntent, str]]:
    """The stuck intents of the scope (whatever the window), oldest first, with why."""
    db = request_session()
    gave_up = set(abandoned_intents(db))
    query = _scoped(filters).where(is_stuck(now, gave_up))
    query = query.order_by(PaymentIntent.created_at, PaymentIntent.id).limit(STUCK_LIMIT)
    return [(row, why_stuck(row, now, row.id in gave_up) or "") for row in db.scalars(query)]


def _held(filters: Filters) -> list[Payment]:
    """Payments held for an operator (issue 14), oldest first, as `gateway payments held`."""
    query = scoped(select(Payment), Payment).where(
        Payment.hold_reason.is_not(None), Payment.released_at.is_(None)
    )
    query = filters.section(filters.mutual(query, Payment), Payment)
    query = query.options(selectinload(Payment.household))
    return list(
        request_session().scalars(query.order_by(Payment.paid_on, Payment.id).limit(HELD_LIMIT))
    )


@console_view("/payments/<int:intent_id>")
def payment(intent_id: int) -> ResponseReturnValue:
    intent = get_or_404(PaymentIntent, intent_id)
    db = request_session()
    events = db.scalars(
        select(PaymentEvent)
        .where(PaymentEvent.intent_id == intent.id)
        .order_by(PaymentEvent.received_at, PaymentEvent.id)
    ).all()
    now = runtime().clock.now()
    abandoned = any(event.outcome == ABANDONED for event in events)
    return render_template(
        "console/payment.html",
        intent=intent,
        events=events,
        postings=_postings(intent),
        why=why_stuck(intent, now, abandoned),
    )


def _postings(intent: PaymentIntent) -> list[LedgerTransaction]:
    """The ledger transactions of the intent's payment: received, and released if held."""
    db = request_session()
    paid = db.get(Payment, intent.payment_id) if intent.payment_id else None
    if paid is None:
        return []
    keys = (paid.ledger_key, f"release:{paid.reference}")
    query = (
        select(LedgerTransaction)
        .where(
            LedgerTransaction.mutual_id == paid.mutual_id,
            LedgerTransaction.idempotency_key.in_(keys),
        )
        .options(selectinload(LedgerTransaction.entries).selectinload(LedgerEntry.account))
        .order_by(LedgerTransaction.id)
    )
    return list(db.scalars(query))


@console_view("/payments/held/<int:payment_id>/release", roles=RELEASERS, methods=("POST",))
def payment_release(payment_id: int) -> ResponseReturnValue:
    held = get_or_404(Payment, payment_id)
    reason = reason_given()
    if not reason:
        return redirect(url_for("console.payments"))
    db = request_session()
    now = runtime().clock.now()
    before = {"hold_reason": held.hold_reason}
    try:
        release_payment(db, held, by=operator().login, now=now)
    except NotHeld:
        db.rollback()
        flash(text(operator().language, "payments_not_held"), "error")
        return redirect(url_for("console.payments"))
    record_action(
        db,
        actor(),
        "payment.release",
        ("payment", held.id),
        now=now,
        where=where_of(held.mutual_id, held.household_id),
        before=before,
        after={"released_by": held.released_by, "amount": held.amount},
        reason=reason,
    )
    db.commit()
    flash(text(operator().language, "payments_released", reference=held.reference), "ok")
    return redirect(url_for("console.payments"))
