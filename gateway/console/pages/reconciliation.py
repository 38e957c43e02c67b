"""`/console/reconciliation` (payments.md, Reconciliation; console.md; issue 16): statement
imports, daily reports, exceptions (suspense lines) with assign / ignore / approve.

Writes go through gateway.services.reconciliation, the same functions as `gateway reconcile
assign|ignore|approve`, with the operator's login as `--by`, in one transaction with one
`operator_actions` row. Maker-checker (payments.md): an assignment above the mutual's approval
threshold waits; a second, different operator approves it (the first one is refused)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from gateway.console.forms import AssignForm, WhyForm
from gateway.console.i18n import text
from gateway.console.paging import BadCursor, Page, keyset_page
from gateway.console.views import actor, console_view, get_or_404, operator, scoped
from gateway.handlers import request_session, runtime
from gateway.models import (
    ActionKind,
    ActionState,
    Household,
    Mutual,
    ReconAction,
    Role,
    StatementDay,
    StatementFile,
    SuspenseItem,
    SuspenseState,
)
from gateway.services import reconciliation
from gateway.services.operators import Where, record_action
from gateway.services.reconciliation import ReconcileError, as_text, build_report, business_day

WRITERS = (Role.MANAGER, Role.FINANCE)  # payments.md: people who resolve exceptions
STATES = ("OPEN", "ASSIGNED", "IGNORED", "all")
LIST_LIMIT = 100  # imports, reports and pending approvals shown at once (newest first)
REPORT_DAYS = 31


@console_view("/reconciliation")
def reconciliation_page() -> ResponseReturnValue:
    db = request_session()
    state = request.args.get("state", "OPEN")
    query = _exceptions_query(state, request.args.get("provider", ""), request.args.get("mutual"))
    try:
        page: Page[SuspenseItem] = keyset_page(
            db, query, SuspenseItem.created_at, SuspenseItem.id, request.args.get("after")
        )
    except BadCursor:
        abort(400, "bad page cursor")
    return render_template(
        "console/reconciliation.html",
        page=page,
        state=state,
        states=STATES,
        mutuals=_mutuals(),
        pending=_pending(),
        imports=_imports(),
        days=_report_days(),
        assign_form=AssignForm(),
        why_form=WhyForm(),
        args=request.args,
    )


def _exceptions_query(state: str, provider: str, mutual: str | None) -> Any:
    query = scoped(select(SuspenseItem), SuspenseItem)
    if state != "all":
        if state not in STATES:
            abort(400, "unknown state")
        query = query.where(SuspenseItem.state == SuspenseState(state))
    if provider:
        query = query.where(SuspenseItem.provider == provider)
    if mutual and mutual.isdigit():
        query = query.where(SuspenseItem.mutual_id == int(mutual))
    return query


def _mutuals() -> dict[int, str]:
    rows = request_session().execute(scoped(select(Mutual.id, Mutual.code), Mutual))
    return {row_id: code for row_id, code in rows}


def _pending() -> list[tuple[ReconAction, str]]:
    """Assignments waiting for a second person, with their household's number."""
    query = (
        scoped(select(ReconAction, Household.number), ReconAction)
        .join(Household, Household.id == ReconAction.household_id)
        .where(ReconAction.state == ActionState.PENDING, ReconAction.kind == ActionKind.ASSIGN)
        .order_by(ReconAction.at.desc(), ReconAction.id.desc())
        .limit(LIST_LIMIT)
    )
    return [(action, number) for action, number in request_session().execute(query)]


def _imports() -> list[StatementFile]:
    query = scoped(select(StatementFile), StatementFile).order_by(
        StatementFile.imported_at.desc(), StatementFile.id.desc()
    )
    return list(request_session().scalars(query.limit(LIST_LIMIT)))


def _report_days() -> list[tuple[int, str, dt.date]]:
    """The (mutual, provider, day) that statements cover, the last month, newest first."""
    since = runtime().clock.now().date() - dt.timedelta(days=REPORT_DAYS)
    query = (
        scoped(
            select(StatementDay.mutual_id, StatementDay.provider, StatementDay.day), StatementDay
        )
        .where(StatementDay.day >= since)
        .distinct()
        .order_by(StatementDay.day.desc(), StatementDay.provider)
        .limit(LIST_LIMIT)
    )
    return [(m, p, d) for m, p, d in request_session().execute(query)]


@console_view("/reconciliation/report/<int:mutual_id>/<provider>/<day>")
def reconciliation_report(mutual_id: int, provider: str, day: str) -> ResponseReturnValue:
    """The daily report of `gateway reconcile report`, for a day a statement in scope covers."""
    db = request_session()
    try:
        when = business_day(day)
    except ReconcileError:
        abort(404)
    covered = scoped(select(StatementDay.day), StatementDay).where(
        StatementDay.mutual_id == mutual_id,
        StatementDay.provider == provider,
        StatementDay.day == when,
    )
    if db.scalars(covered.limit(1)).first() is None:
        abort(404)
    mutual = get_or_404(Mutual, mutual_id)
    report = build_report(db, mutual, provider, when)
    return render_template(
        "console/recon_report.html",
        mutual=mutual,
        provider=provider,
        day=when,
        text=as_text(report),
    )


# --- writes --------------------------------------------------------------------------------


def who() -> str:
    """The operator as `--by` names a person (at most 60 characters, one per operator)."""
    user = operator()
    return user.login if len(user.login) <= 60 else f"user:{user.id}"


def _where(item: SuspenseItem, household: Household | None = None) -> Where:
    return Where(mutual_id=item.mutual_id, section_id=household.section_id if household else None)


@console_view("/reconciliation/<int:suspense_id>/assign", roles=WRITERS, methods=("POST",))
def reconciliation_assign(suspense_id: int) -> ResponseReturnValue:
    item = get_or_404(SuspenseItem, suspense_id)
    form = AssignForm()
    if not form.validate_on_submit():
        return _refused(text(_lang(), "reason_required"))
    db, now = request_session(), runtime().clock.now()
    number, reason = (form.household.data or "").strip(), (form.reason.data or "").strip()
    household = _household_in_scope(item, number)
    if household is None:
        return _refused(text(_lang(), "recon_no_household", number=number))
    try:
        done = reconciliation.assign(db, item.id, number, by=who(), reason=reason, now=now)
    except ReconcileError as exc:
        return _refused(str(exc))
    after = {"household": number, "amount": done.amount, "state": str(done.state)}
    after["recon_action"] = done.id
    record_action(
        db,
        actor(),
        "reconciliation.assign",
        ("suspense", item.id),
        now=now,
        where=_where(item, household),
        after=after,
        reason=reason,
    )
    db.commit()
    waits = done.state == ActionState.PENDING
    key = "recon_waits" if waits else "recon_assigned"
    flash(text(_lang(), key, id=suspense_id, number=number, amount=done.amount), "ok")
    return _back()


def _household_in_scope(item: SuspenseItem, number: str) -> Household | None:
    query = scoped(select(Household), Household).where(Household.number == number)
    if item.mutual_id is not None:
        query = query.where(Household.mutual_id == item.mutual_id)
    found = list(request_session().scalars(query.limit(2)))
    return found[0] if len(found) == 1 else None


@console_view("/reconciliation/<int:suspense_id>/ignore", roles=WRITERS, methods=("POST",))
def reconciliation_ignore(suspense_id: int) -> ResponseReturnValue:
    item = get_or_404(SuspenseItem, suspense_id)
    form = WhyForm()
    if not form.validate_on_submit():
        return _refused(text(_lang(), "reason_required"))
    db, now, reason = request_session(), runtime().clock.now(), (form.reason.data or "").strip()
    try:
        done = reconciliation.ignore(db, item.id, reason=reason, by=who(), now=now)
    except ReconcileError as exc:
        return _refused(str(exc))
    after = {"state": str(item.state), "amount": item.amount, "recon_action": done.id}
    record_action(
        db,
        actor(),
        "reconciliation.ignore",
        ("suspense", item.id),
        now=now,
        where=_where(item),
        after=after,
        reason=reason,
    )
    db.commit()
    flash(text(_lang(), "recon_ignored", id=suspense_id), "ok")
    return _back()


@console_view("/reconciliation/actions/<int:action_id>/approve", roles=WRITERS, methods=("POST",))
def reconciliation_approve(action_id: int) -> ResponseReturnValue:
    pending = get_or_404(ReconAction, action_id)
    form = WhyForm()
    if not form.validate_on_submit():
        return _refused(text(_lang(), "reason_required"))
    if pending.by == who():  # maker-checker (payments.md): never the person who asked
        return _refused(text(_lang(), "recon_same_person", id=action_id))
    db, now, reason = request_session(), runtime().clock.now(), (form.reason.data or "").strip()
    try:
        done = reconciliation.approve(db, action_id, by=who(), now=now)
    except ReconcileError as exc:
        return _refused(str(exc))
    household = db.get(Household, done.household_id) if done.household_id else None
    item = db.get_one(SuspenseItem, done.suspense_id)
    record_action(
        db,
        actor(),
        "reconciliation.approve",
        ("recon_action", done.id),
        now=now,
        where=_where(item, household),
        before={"asked_by": done.by},
        after={"suspense": item.id, "amount": done.amount, "state": str(done.state)},
        reason=reason,
    )
    db.commit()
    flash(text(_lang(), "recon_approved", id=action_id), "ok")
    return _back()


def _refused(message: str) -> ResponseReturnValue:
    """Nothing written: the transaction is rolled back and the reason shown."""
    request_session().rollback()
    flash(message, "error")
    return _back()


def _back() -> ResponseReturnValue:
    return redirect(url_for("console.reconciliation_page"))


def _lang() -> str:
    return operator().language
