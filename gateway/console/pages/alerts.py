"""`/console/alerts`: the scope's alerts (gateway.services.alerts), open ones by default,
resolved ones on request, newest first, keyset-paged on (created_at, id); filters: mutual, a
date window (resolved: the last 30 days by default; open: every open alert unless a window is
typed), state. Alerts are mutual-wide (no section: a section's operator sees none, scope.py).
Resolving (manager, finance, admin) needs a note, kept as the reason of its one
`operator_actions` row (D27, issue 16), through `resolve_alert` as `gateway alerts resolve`."""

from __future__ import annotations

import datetime as dt

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import Select, select

from gateway.console.i18n import text
from gateway.console.pages.filtering import Filters, choices, read_filters
from gateway.console.pages.opsforms import reason_given, where_of
from gateway.console.paging import BadCursor, Page, keyset_page
from gateway.console.views import WRITERS, actor, console_view, get_or_404, operator, scoped
from gateway.handlers import request_session, runtime
from gateway.models import Alert
from gateway.services.alerts import resolve_alert
from gateway.services.operators import record_action

WINDOW = dt.timedelta(days=30)
OPEN, RESOLVED = "open", "resolved"
STATES = (OPEN, RESOLVED)


@console_view("/alerts")
def alerts() -> ResponseReturnValue:
    db = request_session()
    filters = read_filters(runtime().clock.now(), WINDOW, STATES)
    try:
        page: Page[Alert] = keyset_page(
            db, _query(filters), Alert.created_at, Alert.id, request.args.get("after")
        )
    except BadCursor:
        abort(400, "bad page cursor")
    return render_template(
        "console/alerts.html",
        page=page,
        filters=filters,
        statuses=STATES,
        windowed=_windowed(filters),
        can_resolve=operator().role in WRITERS,
        **choices(db, filters),
    )


def _query(filters: Filters) -> Select[Alert]:
    query = filters.mutual(scoped(select(Alert), Alert), Alert)
    if filters.status == RESOLVED:
        return filters.window(query.where(Alert.resolved_at.is_not(None)), Alert.created_at)
    query = query.where(Alert.resolved_at.is_(None))
    return filters.window(query, Alert.created_at) if _windowed(filters) else query


def _windowed(filters: Filters) -> bool:
    """Resolved alerts: inside the window; open ones: all of them unless a day is typed."""
    return filters.status == RESOLVED or bool(filters.typed["from"] or filters.typed["to"])


@console_view("/alerts/<int:alert_id>/resolve", roles=WRITERS, methods=("POST",))
def alert_resolve(alert_id: int) -> ResponseReturnValue:
    alert = get_or_404(Alert, alert_id)
    note = reason_given()
    if not note:
        return redirect(url_for("console.alerts"))
    lang = operator().language
    if alert.resolved_at is not None:
        flash(text(lang, "alerts_already"), "error")
        return redirect(url_for("console.alerts"))
    db = request_session()
    now = runtime().clock.now()
    resolve_alert(db, alert.id, now)
    record_action(
        db,
        actor(),
        "alert.resolve",
        ("alert", alert.id),
        now=now,
        where=where_of(alert.mutual_id),
        before={"kind": alert.kind, "subject": alert.subject},
        reason=note,
    )
    db.commit()
    flash(text(lang, "alerts_resolved"), "ok")
    return redirect(url_for("console.alerts"))
