"""`/console/exports` (console.md: CSV exports of any list run as a job, a date range is
required, written gzipped, downloadable by their requester for a limited time, each export
logged; issue 17). Each list page (sms, payments, ussd, audit, members) has an export button
posting its filters here; this page lists the operator's own exports with their download link,
which only they can use and which answers 410 once expired. The work is in
gateway.console.exports, shared with the API and the worker's job."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import abort, flash, redirect, render_template, send_file, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gateway.console.exports import (
    ExportGone,
    ExportNotReady,
    ExportRefused,
    Requester,
    downloadable,
    record_download,
    request_export,
)
from gateway.console.forms import ExportForm
from gateway.console.i18n import text
from gateway.console.views import WRITERS, actor, bp, console_view, operator, scoped
from gateway.handlers import request_session, runtime
from gateway.models import Export, Mutual

LIST_LIMIT = 50
DEFAULT_DAYS = 30
MAX_ID_DIGITS = 10


def user_requester() -> Requester:
    user = operator()
    return Requester(
        key=f"user:{user.id}",
        user_id=user.id,
        token_id=None,
        scope_kind=user.scope_kind,
        union_id=user.scope_union_id,
        mutual_id=user.scope_mutual_id,
        section_id=user.scope_section_id,
    )


@bp.context_processor
def _export_defaults() -> dict[str, Any]:
    """The export button's default range: the last DEFAULT_DAYS days up to today (UTC)."""
    today = runtime().clock.now().date()
    return {"export_days": (today - dt.timedelta(days=DEFAULT_DAYS - 1), today)}


@console_view("/exports", roles=WRITERS)
def exports() -> ResponseReturnValue:
    query = (
        select(Export)
        .where(Export.requester == user_requester().key)
        .order_by(Export.requested_at.desc(), Export.id.desc())
        .limit(LIST_LIMIT)
    )
    rows = list(request_session().scalars(query))
    return render_template("console/exports.html", exports=rows, now=runtime().clock.now())


@console_view("/exports/new", roles=WRITERS, methods=("POST",))
def export_new() -> ResponseReturnValue:
    form = ExportForm()
    lang = operator().language
    if not form.validate_on_submit():
        flash(text(lang, "exports_range_required"), "error")
        return redirect(url_for("console.exports"))
    try:
        days = (
            dt.date.fromisoformat(form.date_from.data or ""),
            dt.date.fromisoformat(form.date_to.data or ""),
        )
    except ValueError:
        flash(text(lang, "exports_range_required"), "error")
        return redirect(url_for("console.exports"))
    db, now, list_name = request_session(), runtime().clock.now(), form.list_name.data or ""
    try:
        row = request_export(
            db, actor(), user_requester(), list_name, days, _filters(form), now=now
        )
        db.commit()
    except (ExportRefused, IntegrityError) as exc:
        db.rollback()
        message = str(exc) if isinstance(exc, ExportRefused) else ""
        flash(message or text(lang, "exports_running", list=list_name), "error")
        return redirect(url_for("console.exports"))
    flash(text(lang, "exports_queued", id=row.id, list=list_name), "ok")
    return redirect(url_for("console.exports"))


def _filters(form: ExportForm) -> dict[str, Any]:
    """The list page's filters; a mutual outside the scope is a 404 (D27)."""
    filters: dict[str, Any] = {}
    raw = (form.mutual.data or "").strip()
    if raw:
        # The pages name a mutual by id (sms, payments) or by code (ussd).
        by_id = raw.isascii() and raw.isdigit() and len(raw) < MAX_ID_DIGITS
        chosen = Mutual.id == int(raw) if by_id else Mutual.code == raw
        found = request_session().scalars(scoped(select(Mutual.id), Mutual).where(chosen))
        mutual_id = found.first()
        if mutual_id is None:
            abort(404)
        filters["mutual_id"] = mutual_id
    if form.status.data:
        filters["status"] = form.status.data.strip()
    if form.errors.data:
        filters["errors"] = True
    return filters


@console_view("/exports/<int:export_id>/download", roles=WRITERS)
def export_download(export_id: int) -> ResponseReturnValue:
    """The requester's file (404 for anyone else, 410 once the link expired)."""
    requester = user_requester()
    db, now = request_session(), runtime().clock.now()
    row = db.get(Export, export_id)
    if row is None or row.requester != requester.key:
        abort(404)
    try:
        path = downloadable(row, runtime().settings.exports_dir, now)
    except ExportNotReady as exc:
        abort(409, str(exc))
    except ExportGone:
        abort(410, text(operator().language, "exports_expired", id=export_id))
    record_download(db, actor(), row, requester, now)
    db.commit()
    return send_file(
        path,
        mimetype="application/gzip",
        as_attachment=True,
        download_name=f"{row.list_name}-{row.date_from}-{row.date_to}.csv.gz",
    )
