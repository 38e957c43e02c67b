"""The `export-csv` job (console.md: CSV exports run as a job): one export id in; safe to run
twice. A finished or failed export is left alone; otherwise the gzipped CSV is (re)written
under the exports directory, through a temporary name, and the row marked done; the files of
expired exports are deleted on the way. A failure is
retried (gateway.queueing); the last one marks the export failed with the error, which frees
the requester's slot for that list."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select

from gateway.console.exports import job_id, remove_expired, write_export
from gateway.models import Export, ExportState
from worker.jobs import context, last_attempt
from worker.jobs.payments import enqueue_once

log = logging.getLogger(__name__)
# An export queued this long ago whose job is not waiting lost its enqueue (the request's
# commit enqueues at once); the sweeper enqueues it again, at most SWEEP_BATCH a run.
LOST_AFTER = dt.timedelta(seconds=60)
SWEEP_BATCH = 100


def export_csv(export_id: str) -> int:
    """Returns the rows written (0 when there was nothing to do)."""
    ctx = context()
    with ctx.session() as session:
        export = session.get(Export, int(export_id))
        if export is None or export.state in (ExportState.DONE, ExportState.FAILED):
            return 0
        export.state, export.started_at = ExportState.RUNNING, ctx.clock.now()
        remove_expired(session, ctx.settings.exports_dir, ctx.clock.now())
    try:
        with ctx.session() as session:
            export = session.get_one(Export, int(export_id))
            count = write_export(session, export, ctx.settings.exports_dir)
            export = session.get_one(Export, int(export_id))  # expunged by the batches
            export.state, export.rows = ExportState.DONE, count
            export.finished_at = ctx.clock.now()
            export.file_name = f"export-{export.id}.csv.gz"
    except Exception as exc:
        if last_attempt():
            _failed(int(export_id), f"{type(exc).__name__}: {exc}")
        raise
    log.info("export %s written: %d row(s)", export_id, count)
    return count


def _failed(export_id: int, error: str) -> None:
    ctx = context()
    with ctx.session() as session:
        export = session.get_one(Export, export_id)
        export.state, export.error, export.finished_at = ExportState.FAILED, error, ctx.clock.now()
    log.error("export %s failed: %s", export_id, error)


def sweep_exports() -> int:
    """Every minute: the QUEUED exports whose job was lost (Redis down or flushed between the
    request's commit and its enqueue) are enqueued again under their job id, so that a
    second enqueue of a waiting one does nothing (architecture.md: each job's sweeper
    re-enqueues from the database). Returns how many were enqueued."""
    ctx = context()
    since = ctx.clock.now() - LOST_AFTER
    with ctx.session() as session:
        ids = list(
            session.scalars(
                select(Export.id)
                .where(Export.state == ExportState.QUEUED, Export.requested_at < since)
                .order_by(Export.id)
                .limit(SWEEP_BATCH)
            )
        )
    count = sum(enqueue_once(ctx.redis, "export-csv", str(i), job_id=job_id(i)) for i in ids)
    if count:
        log.warning("export sweep: %d lost export job(s) enqueued again", count)
    return count
