"""CSV exports (console.md "JSON API": "CSV exports of any list run as a job (a date range is
required), are written gzipped, and are downloadable by their requester for a limited time;
each export is logged"). Asked from the console (a user) or the API (a token); no Flask here,
so the console, the API and the worker's job share it.

- `request_export`: one row, its `operator_actions` row and the job deferred until commit
  (gateway.queueing), in the caller's transaction. One queued or running export per requester
  and list (a partial unique index backs the check); one left running by a dead worker for
  STALE_AFTER is failed so that it does not block its requester for ever.
- `write_export`: the job's work, idempotent: a finished export is not written again; the
  file is written under a temporary name and renamed, so a half-written file never shows.
- `downloadable`: the requester's own export, done and not expired (410 past `expires_at`)."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.console.export_rows import Window, cell, header, rows
from gateway.console.scope import Scope, stored_scope
from gateway.models import EXPORT_LISTS, Export, ExportState, ScopeKind
from gateway.queueing import defer
from gateway.services.operators import Actor, Where, record_action

EXPIRES_AFTER = dt.timedelta(hours=24)  # how long the download link lives
STALE_AFTER = dt.timedelta(hours=2)  # longer than the job's timeout: its worker died
MAX_DAYS = 366  # a year at most per export
UNFINISHED = (ExportState.QUEUED, ExportState.RUNNING)
JOB = "export-csv"
SWEEP_LIMIT = 100


class ExportRefused(ValueError):
    """A request that cannot be taken: the message says why."""


class ExportGone(LookupError):
    """The export's link expired (or its file is gone): ask for it again."""


class ExportNotReady(LookupError):
    """The export is still queued or running, or failed."""


@dataclass(frozen=True)
class Requester:
    """Who asks: a user (console) or a token (API), with the scope they see now."""

    key: str  # user:ID | token:ID
    user_id: int | None
    token_id: int | None
    scope_kind: ScopeKind
    union_id: int | None
    mutual_id: int | None
    section_id: int | None

    @property
    def where(self) -> Where:
        return Where(self.union_id, self.mutual_id, self.section_id)


def job_id(export_id: int) -> str:
    return f"export-{export_id}"


def request_export(
    session: Session,
    actor: Actor,
    requester: Requester,
    list_name: str,
    days: tuple[dt.date, dt.date],
    filters: dict[str, Any],
    *,
    now: dt.datetime,
) -> Export:
    """A new export of `list_name` over `days` (inclusive), queued after commit."""
    date_from, date_to = days
    if list_name not in EXPORT_LISTS:
        raise ExportRefused(f"list is one of {', '.join(EXPORT_LISTS)}")
    if date_to < date_from:
        raise ExportRefused("the date range ends before it starts")
    if (date_to - date_from).days >= MAX_DAYS:
        raise ExportRefused(f"a date range covers at most {MAX_DAYS} days")
    _fail_stale(session, requester, list_name, now)
    running = session.scalars(
        select(Export.id).where(
            Export.requester == requester.key,
            Export.list_name == list_name,
            Export.state.in_(UNFINISHED),
        )
    ).first()
    if running is not None:
        raise ExportRefused(
            f"an export of {list_name} is already running (export {running}): "
            "wait until it finishes"
        )
    row = Export(
        list_name=list_name,
        requester=requester.key,
        user_id=requester.user_id,
        token_id=requester.token_id,
        scope_kind=requester.scope_kind,
        scope_union_id=requester.union_id,
        scope_mutual_id=requester.mutual_id,
        scope_section_id=requester.section_id,
        date_from=date_from,
        date_to=date_to,
        filters=filters,
        state=ExportState.QUEUED,
        requested_at=now,
        expires_at=now + EXPIRES_AFTER,
    )
    session.add(row)
    session.flush()
    after = {"list": list_name, "from": date_from.isoformat(), "to": date_to.isoformat()}
    record_action(
        session,
        actor,
        "export.request",
        ("export", row.id),
        now=now,
        where=requester.where,
        after={**after, **filters, "requester": requester.key},
    )
    defer(session, JOB, str(row.id), job_id=job_id(row.id))
    return row


def _fail_stale(session: Session, requester: Requester, list_name: str, now: dt.datetime) -> None:
    stale = session.scalars(
        select(Export).where(
            Export.requester == requester.key,
            Export.list_name == list_name,
            Export.state.in_(UNFINISHED),
            Export.requested_at < now - STALE_AFTER,
        )
    )
    for row in stale:
        row.state, row.error, row.finished_at = ExportState.FAILED, "never finished", now


def file_path(directory: Path, export: Export) -> Path:
    return directory / f"export-{export.id}.csv.gz"


def export_scope(session: Session, export: Export) -> Scope:
    return stored_scope(
        session,
        export.scope_kind,
        export.scope_union_id,
        export.scope_mutual_id,
        export.scope_section_id,
    )


def write_export(session: Session, export: Export, directory: Path) -> int:
    """Write the export's gzipped CSV (rows streamed in batches); returns the row count."""
    directory.mkdir(parents=True, exist_ok=True)
    final = file_path(directory, export)
    partial = final.with_name(final.name + ".part")
    scope, window = export_scope(session, export), Window.of(export)
    count = 0
    with gzip.open(partial, "wt", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header(export.list_name))
        for row in rows(session, export.list_name, scope, window):
            writer.writerow([cell(value) for value in row])
            count += 1
    os.replace(partial, final)
    return count


def remove_expired(session: Session, directory: Path, now: dt.datetime) -> int:
    """Delete the files of exports whose link expired (at most SWEEP_LIMIT a call; each export
    job sweeps, so expired files never pile up); the rows stay, as the record."""
    query = (
        select(Export)
        .where(Export.expires_at <= now, Export.file_name.is_not(None))
        .order_by(Export.id)
        .limit(SWEEP_LIMIT)
    )
    removed = 0
    for row in session.scalars(query):
        file_path(directory, row).unlink(missing_ok=True)
        row.file_name = None
        removed += 1
    return removed


def downloadable(export: Export, directory: Path, now: dt.datetime) -> Path:
    """The file of a finished, unexpired export (ExportNotReady, ExportGone otherwise)."""
    if export.state != ExportState.DONE:
        raise ExportNotReady(f"export {export.id} is {export.state}")
    path = file_path(directory, export)
    if now >= export.expires_at or not path.exists():
        raise ExportGone(
            f"export {export.id} expired at {export.expires_at.isoformat()}: ask for a new one"
        )
    return path


def record_download(
    session: Session, actor: Actor, export: Export, requester: Requester, now: dt.datetime
) -> None:
    record_action(
        session,
        actor,
        "export.download",
        ("export", export.id),
        now=now,
        where=requester.where,
        after={"list": export.list_name, "rows": export.rows, "requester": requester.key},
    )


def describe(export: Export) -> dict[str, Any]:
    """The export as the API shows it (ISO 8601 dates)."""
    return {
        "id": export.id,
        "list": export.list_name,
        "from": export.date_from.isoformat(),
        "to": export.date_to.isoformat(),
        "filters": export.filters,
        "state": str(export.state),
        "rows": export.rows,
        "error": export.error,
        "requested_at": _iso(export.requested_at),
        "finished_at": _iso(export.finished_at),
        "expires_at": _iso(export.expires_at),
    }


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment else None
