"""`/console/jobs`: the RQ queues (length; started, scheduled, deferred and failed counts) and
the latest failed jobs of a queue with their error (phones masked by the worker), and
"requeue" of a failed job (admin, manager, finance; one `operator_actions` row, D27).
Jobs carry no mutual, so only operators whose scope is the whole deployment open this page
(a narrower scope answers 403: it could read other mutuals' job arguments and errors)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from gateway.console.i18n import text
from gateway.console.pages.opsforms import reason_given
from gateway.console.views import WRITERS, actor, console_view, current_scope, operator
from gateway.handlers import request_session, runtime
from gateway.queue_status import failed_jobs, find_failed, queue_figures, requeue_failed
from gateway.queueing import QUEUES
from gateway.services.operators import record_action


def _whole_deployment() -> None:
    if not current_scope().everything:
        abort(403, "jobs belong to no mutual: only the whole deployment's operators see them")


@console_view("/jobs")
def jobs() -> ResponseReturnValue:
    _whole_deployment()
    shown = request.args.get("queue", "")
    if shown and shown not in QUEUES:
        abort(400, f"queue must be one of {', '.join(QUEUES)}")
    connection = runtime().redis
    names = [shown] if shown else list(QUEUES)
    failed = [job for name in names for job in failed_jobs(connection, name)]
    return render_template(
        "console/jobs.html",
        queues=queue_figures(connection),
        failed=failed,
        shown=shown,
        queue_names=QUEUES,
        can_requeue=operator().role in WRITERS,
    )


@console_view("/jobs/<job_id>/requeue", roles=WRITERS, methods=("POST",))
def job_requeue(job_id: str) -> ResponseReturnValue:
    _whole_deployment()
    connection = runtime().redis
    queue = find_failed(connection, job_id)
    if queue is None:
        abort(404)
    reason = reason_given()
    if not reason:
        return redirect(url_for("console.jobs"))
    db = request_session()
    record_action(
        db,
        actor(),
        "job.requeue",
        ("job", job_id),
        now=runtime().clock.now(),
        after={"queue": queue},
        reason=reason,
    )
    db.commit()  # the action is the record; the job goes back once it is kept
    requeue_failed(connection, queue, job_id)
    flash(text(operator().language, "jobs_requeued", id=job_id), "ok")
    return redirect(url_for("console.jobs"))
