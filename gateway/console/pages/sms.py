"""`/console/sms`: the outbox of the scope with statuses and delivery reports (console.md,
messaging.md), newest first, keyset-paged on (created_at, id) inside a date window (default:
the last 24 hours); filters: mutual, section, status, errors only. A FAILED message can be
resent (manager, admin) with a reason: gateway.services.messaging.resend queues a copy and
defers its send job to the commit; one `operator_actions` row (D27, issue 16)."""

from __future__ import annotations

import datetime as dt

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import Select, or_, select

from gateway.console.i18n import text
from gateway.console.pages.filtering import Filters, choices, read_filters
from gateway.console.pages.opsforms import reason_given, where_of
from gateway.console.paging import BadCursor, Page, keyset_page
from gateway.console.views import actor, console_view, get_or_404, operator, scoped
from gateway.handlers import request_session, runtime
from gateway.models import OutboxMessage, OutboxStatus, Role
from gateway.services.messaging import RESENDABLE, UNDELIVERED, resend_failed
from gateway.services.operators import record_action

WINDOW = dt.timedelta(hours=24)
RESENDERS = (Role.ADMIN, Role.MANAGER)
STATUSES = tuple(s.value for s in OutboxStatus)


@console_view("/sms")
def sms() -> ResponseReturnValue:
    db = request_session()
    filters = read_filters(runtime().clock.now(), WINDOW, STATUSES)
    try:
        page: Page[OutboxMessage] = keyset_page(
            db,
            _query(filters),
            OutboxMessage.created_at,
            OutboxMessage.id,
            request.args.get("after"),
        )
    except BadCursor:
        abort(400, "bad page cursor")
    return render_template(
        "console/sms.html",
        page=page,
        filters=filters,
        statuses=STATUSES,
        resendable=RESENDABLE,
        can_resend=operator().role in RESENDERS,
        **choices(db, filters),
    )


def _query(filters: Filters) -> Select[OutboxMessage]:
    query = filters.window(scoped(select(OutboxMessage), OutboxMessage), OutboxMessage.created_at)
    query = filters.section(filters.mutual(query, OutboxMessage), OutboxMessage)
    if filters.status:
        query = query.where(OutboxMessage.status == filters.status)
    if filters.errors:
        query = query.where(
            or_(OutboxMessage.status.in_(UNDELIVERED), OutboxMessage.last_error.is_not(None))
        )
    return query


@console_view("/sms/<int:message_id>/resend", roles=RESENDERS, methods=("POST",))
def sms_resend(message_id: int) -> ResponseReturnValue:
    message = get_or_404(OutboxMessage, message_id)
    reason = reason_given()
    if not reason:
        return redirect(url_for("console.sms"))
    if message.status not in RESENDABLE:
        flash(text(operator().language, "sms_not_failed"), "error")
        return redirect(url_for("console.sms"))
    db = request_session()
    now = runtime().clock.now()
    copy, made = resend_failed(db, message, now)
    if made:
        record_action(
            db,
            actor(),
            "sms.resend",
            ("outbox_message", message.id),
            now=now,
            where=where_of(message.mutual_id, message.household_id),
            after={"copy_id": copy.id},
            reason=reason,
        )
    db.commit()  # the send job is enqueued once this commits (gateway.queueing.defer)
    key = "sms_resent" if made else "sms_already_resent"
    flash(text(operator().language, key, id=copy.id), "ok")
    return redirect(url_for("console.sms"))
