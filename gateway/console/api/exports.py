"""CSV exports in the JSON API (console.md "JSON API", issue 17): `POST /api/v1/exports` asks for
one (a list and a date range; the same filters as the list), `GET /api/v1/exports/<id>` tells
its state, `GET /api/v1/exports/<id>/download` gives the gzipped CSV to the token that asked,
until the link expires (410 after). Another token's export is 404, as one that does not exist.
Each request and each download is one `operator_actions` row (gateway.console.exports)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Response, abort, g, jsonify, send_file
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gateway.console.api.writes import api_actor, json_body, text_field
from gateway.console.exports import (
    ExportGone,
    ExportNotReady,
    ExportRefused,
    Requester,
    describe,
    downloadable,
    record_download,
    request_export,
)
from gateway.console.views import WRITERS, api_view, scoped
from gateway.handlers import request_session, runtime
from gateway.models import EXPORT_LISTS, ApiToken, Export, Mutual

STATUS_LENGTH = 20


def token_requester() -> Requester:
    token = request_session().get_one(ApiToken, g.api_token_id)
    return Requester(
        key=f"token:{token.id}",
        user_id=None,
        token_id=token.id,
        scope_kind=token.scope_kind,
        union_id=token.scope_union_id,
        mutual_id=token.scope_mutual_id,
        section_id=token.scope_section_id,
    )


@api_view("/exports", roles=WRITERS, methods=("POST",))
def export_new() -> tuple[Response, int]:
    """Body `{"list", "from", "to"}` (required; ISO 8601 days, inclusive) and optionally
    `mutual` (a code in the scope), `status`, `errors`: 202 with the export, queued."""
    body = json_body()
    list_name = text_field(body, "list", limit=STATUS_LENGTH)
    if list_name not in EXPORT_LISTS:
        abort(400, f"list is one of {', '.join(EXPORT_LISTS)}")
    days = (_day(body, "from"), _day(body, "to"))
    filters = _filters(body)
    db, now = request_session(), runtime().clock.now()
    try:
        row = request_export(db, api_actor(), token_requester(), list_name, days, filters, now=now)
        db.commit()
    except ExportRefused as exc:
        db.rollback()
        abort(409 if "already running" in str(exc) else 400, str(exc))
    except IntegrityError:  # a simultaneous request won the unique index
        db.rollback()
        abort(409, f"an export of {list_name} is already running: wait until it finishes")
    return jsonify(describe(row)), 202


def _day(body: dict[str, Any], name: str) -> dt.date:
    raw = text_field(body, name, limit=10)
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        abort(400, f"{name} is an ISO 8601 date (YYYY-MM-DD), not {raw!r}")


def _filters(body: dict[str, Any]) -> dict[str, Any]:
    filters: dict[str, Any] = {}
    code = text_field(body, "mutual", limit=STATUS_LENGTH, required=False)
    if code:
        query = scoped(select(Mutual.id), Mutual).where(Mutual.code == code)
        found = request_session().scalars(query).first()
        if found is None:
            abort(404, f"no mutual {code} in this token's scope")
        filters["mutual_id"] = found
    status = text_field(body, "status", limit=STATUS_LENGTH, required=False)
    if status:
        filters["status"] = status
    errors = body.get("errors", False)
    if not isinstance(errors, bool):
        abort(400, "errors is true or false")
    if errors:
        filters["errors"] = True
    return filters


def _mine(export_id: int) -> Export:
    """The token's own export (404 for anyone else's: nothing leaks)."""
    row = request_session().get(Export, export_id)
    if row is None or row.requester != f"token:{g.api_token_id}":
        abort(404, "no such export")
    return row


@api_view("/exports/<int:export_id>", roles=WRITERS)
def export_status(export_id: int) -> Response:
    return jsonify(describe(_mine(export_id)))


@api_view("/exports/<int:export_id>/download", roles=WRITERS)
def export_download(export_id: int) -> Response:
    """The gzipped CSV (409 while not ready, 410 once expired)."""
    row = _mine(export_id)
    db, now = request_session(), runtime().clock.now()
    try:
        path = downloadable(row, runtime().settings.exports_dir, now)
    except ExportNotReady as exc:
        abort(409, str(exc))
    except ExportGone as exc:
        abort(410, str(exc))
    record_download(db, api_actor(), row, token_requester(), now)
    db.commit()
    return send_file(
        path,
        mimetype="application/gzip",
        as_attachment=True,
        download_name=f"{row.list_name}-{row.date_from}-{row.date_to}.csv.gz",
    )
