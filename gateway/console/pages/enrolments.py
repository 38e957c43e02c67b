"""`/console/enrolments` (console.md, D24): the field enrolments of the scope waiting for a
manager, oldest first, each with its dependants and what it may duplicate (the same phone, or
the same name and year of birth in the section). A manager or an admin approves one (its
household and member numbers are generated, SMS go to the head and the collector) or rejects
it with a reason (SMS to the collector); one `operator_actions` row per decision (D27), in the
same transaction, through the service the CLI and the API use."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from gateway.console.i18n import text
from gateway.console.pages.opsforms import reason_given
from gateway.console.views import actor, console_view, get_or_404, operator, scoped
from gateway.handlers import request_session, runtime
from gateway.models import Enrolment, EnrolmentStatus, Role
from gateway.services.members import EnrolmentError, EventError, decide_enrolment

DECIDERS = (Role.ADMIN, Role.MANAGER)  # D27: managers run the members
LIMIT = 200  # pending enrolments are a working list, not a log: the oldest first


@console_view("/enrolments")
def enrolments() -> ResponseReturnValue:
    query = scoped(select(Enrolment), Enrolment).where(Enrolment.status == EnrolmentStatus.PENDING)
    query = query.options(selectinload(Enrolment.dependants)).order_by(Enrolment.id).limit(LIMIT)
    rows = list(request_session().scalars(query))
    return render_template(
        "console/enrolments.html",
        rows=rows,
        can_decide=operator().role in DECIDERS,
        limit=LIMIT,
    )


@console_view("/enrolments/<int:enrolment_id>/approve", roles=DECIDERS, methods=("POST",))
def enrolment_approve(enrolment_id: int) -> ResponseReturnValue:
    found = get_or_404(Enrolment, enrolment_id)
    if not FlaskForm().validate_on_submit():  # the CSRF token (checked before, kept explicit)
        return redirect(url_for("console.enrolments"))
    return _decide(found, "approve", "")


@console_view("/enrolments/<int:enrolment_id>/reject", roles=DECIDERS, methods=("POST",))
def enrolment_reject(enrolment_id: int) -> ResponseReturnValue:
    found = get_or_404(Enrolment, enrolment_id)
    reason = reason_given()
    if not reason:
        return redirect(url_for("console.enrolments"))
    return _decide(found, "reject", reason)


def _decide(found: Enrolment, verdict: str, reason: str) -> ResponseReturnValue:
    db = request_session()
    lang = operator().language
    try:
        row = decide_enrolment(
            db,
            found,
            verdict,
            by=f"console:{operator().login}",
            actor=actor(),
            reason=reason,
            now=runtime().clock.now(),
        )
    except (EnrolmentError, EventError) as exc:
        db.rollback()
        flash(text(lang, "enrolments_refused", reason=str(exc)), "error")
        return redirect(url_for("console.enrolments"))
    db.commit()  # SMS send jobs are enqueued once this commits (gateway.queueing.defer)
    if verdict == "approve":
        flash(text(lang, "enrolments_approved", id=row["id"], household=row["household"]), "ok")
    else:
        flash(text(lang, "enrolments_rejected", id=row["id"]), "ok")
    return redirect(url_for("console.enrolments"))
