"""`/console/reports` (console.md, D25, issue 17): funder and levy statements per period, each
a printable page and a CSV (the claim the mutual sends), with the payments recorded against
them; the lists and the member cards are in gateway.console.pages.lists.

Statements are mutual-wide (a section's operator gets 404, as for any object outside their
scope); recording a funder's payment or a levy's remittance is for `finance`, with a reason,
through the services of `gateway funders pay` / `gateway levies remit`, in one transaction
with one `operator_actions` row."""

from __future__ import annotations

import datetime as dt

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from gateway.clock import local_date
from gateway.console.forms import PayForm
from gateway.console.i18n import text
from gateway.console.views import (
    actor,
    console_view,
    current_scope,
    get_or_404,
    operator,
    scoped,
)
from gateway.handlers import request_session, runtime
from gateway.models import Agent, Funder, Mutual, Role, ScopeKind, Section
from gateway.services import ledger, reports
from gateway.services.operators import Where, record_action
from gateway.services.reports import ReportError, Span

PAYERS = (Role.FINANCE,)  # D27: finance records money from funders and to funds
FACILITY_LIMIT = 500  # facilities of a scope: a few to a few hundred


@console_view("/reports")
def reports_page() -> ResponseReturnValue:
    db = request_session()
    mutuals = list(db.scalars(scoped(select(Mutual), Mutual).order_by(Mutual.code)))
    funders = list(db.scalars(scoped(select(Funder), Funder).order_by(Funder.code)))
    sections = list(db.scalars(scoped(select(Section), Section).order_by(Section.name)))
    levies = {m.id: reports.levy_names(db, m) for m in mutuals} if _mutual_wide() else {}
    facilities = scoped(select(Agent), Agent).where(
        Agent.role == "facility", Agent.section_id.is_not(None)
    )
    return render_template(
        "console/reports.html",
        mutuals=mutuals,
        funders=funders,
        sections=sections,
        levies=levies,
        facilities=list(db.scalars(facilities.order_by(Agent.name).limit(FACILITY_LIMIT))),
        period=str(_today(mutuals[0] if mutuals else None).year),
    )


def _mutual_wide() -> bool:
    return current_scope().kind != ScopeKind.SECTION


def _today(mutual: Mutual | None) -> dt.date:
    now = runtime().clock.now()
    return local_date(now, mutual.timezone) if mutual else now.date()


def span_arg() -> Span:
    """The `period` query argument (400 with the reason when it is not a period)."""
    try:
        return reports.parse_span(request.args.get("period", ""))
    except ReportError as exc:
        abort(400, str(exc))


def csv_response(body: str, name: str) -> Response:
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# --- funders ---------------------------------------------------------------------------------


@console_view("/reports/funders/<int:funder_id>")
def funder_report(funder_id: int) -> ResponseReturnValue:
    funder = get_or_404(Funder, funder_id)
    statement = reports.funder_statement(request_session(), funder, span_arg())
    if request.args.get("format") == "csv":
        name = f"{funder.mutual.code}-{funder.code}-{statement.span.label}.csv"
        return csv_response(reports.statement_csv(statement), name)
    return render_template(
        "console/report_funder.html",
        statement=statement,
        form=PayForm(),
        today=_today(funder.mutual),
    )


@console_view("/reports/funders/<int:funder_id>/pay", roles=PAYERS, methods=("POST",))
def funder_pay(funder_id: int) -> ResponseReturnValue:
    funder = get_or_404(Funder, funder_id)
    span, form = span_arg(), PayForm()
    back = url_for("console.funder_report", funder_id=funder.id, period=span.label)
    if not form.validate_on_submit():
        return _refused(text(_lang(), "reports_pay_rule"), back)
    db, now = request_session(), runtime().clock.now()
    try:
        done = reports.pay_funder(
            db,
            funder,
            span,
            amount=form.amount.data or 0,
            reference=form.reference.data or "",
            paid_on=_paid_on(form, funder.mutual),
            by=operator().login,
        )
    except (ReportError, ledger.LedgerError) as exc:
        return _refused(str(exc), back)
    if done.created:
        record_action(
            db,
            actor(),
            "funder.payment",
            ("funder", funder.id),
            now=now,
            where=Where(mutual_id=funder.mutual_id),
            after=_paid(
                done.payment.amount, done.payment.reference, span, done.statement.outstanding
            ),
            reason=(form.reason.data or "").strip(),
        )
    db.commit()
    flash(text(_lang(), "reports_recorded" if done.created else "reports_replayed"), "ok")
    return redirect(back)


def _paid(amount: int, reference: str, span: Span, outstanding: int) -> dict[str, object]:
    return {
        "amount": amount,
        "reference": reference,
        "period": span.label,
        "outstanding": outstanding,
    }


def _paid_on(form: PayForm, mutual: Mutual) -> dt.date:
    raw = (form.paid_on.data or "").strip()
    if not raw:
        return _today(mutual)
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise ReportError(f"date paid {raw!r} must be YYYY-MM-DD") from None


# --- levies ----------------------------------------------------------------------------------


def _levy_mutual(mutual_id: int, levy: str) -> Mutual:
    """The mutual (inside the scope, mutual-wide) and one of its levies; 404 otherwise."""
    mutual = get_or_404(Mutual, mutual_id)
    if not _mutual_wide() or levy not in reports.levy_names(request_session(), mutual):
        abort(404)
    return mutual


@console_view("/reports/levies/<int:mutual_id>/<levy>")
def levy_report(mutual_id: int, levy: str) -> ResponseReturnValue:
    mutual = _levy_mutual(mutual_id, levy)
    statement = reports.levy_statement(request_session(), mutual, levy, span_arg())
    if request.args.get("format") == "csv":
        name = f"{mutual.code}-{levy}-{statement.span.label}.csv"
        return csv_response(reports.levy_csv(statement), name)
    return render_template(
        "console/report_levy.html", statement=statement, form=PayForm(), today=_today(mutual)
    )


@console_view("/reports/levies/<int:mutual_id>/<levy>/remit", roles=PAYERS, methods=("POST",))
def levy_remit(mutual_id: int, levy: str) -> ResponseReturnValue:
    mutual = _levy_mutual(mutual_id, levy)
    span, form = span_arg(), PayForm()
    back = url_for("console.levy_report", mutual_id=mutual.id, levy=levy, period=span.label)
    if not form.validate_on_submit():
        return _refused(text(_lang(), "reports_pay_rule"), back)
    db, now = request_session(), runtime().clock.now()
    try:
        done = reports.remit_levy(
            db,
            mutual,
            levy,
            span,
            amount=form.amount.data or 0,
            reference=form.reference.data or "",
            paid_on=_paid_on(form, mutual),
            by=operator().login,
        )
    except (ReportError, ledger.LedgerError) as exc:
        return _refused(str(exc), back)
    if done.created:
        row = done.remittance
        record_action(
            db,
            actor(),
            "levy.remittance",
            ("levy", levy),
            now=now,
            where=Where(mutual_id=mutual.id),
            after=_paid(row.amount, row.reference, span, done.statement.outstanding),
            reason=(form.reason.data or "").strip(),
        )
    db.commit()
    flash(text(_lang(), "reports_recorded" if done.created else "reports_replayed"), "ok")
    return redirect(back)


def _refused(message: str, back: str) -> ResponseReturnValue:
    request_session().rollback()
    flash(message, "error")
    return redirect(back)


def _lang() -> str:
    return operator().language
