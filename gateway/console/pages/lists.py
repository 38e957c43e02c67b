"""`/console/reports/...` lists and cards (issue 17): the defaulters of a section with the
amount offered (D6b) and the phone, masked (D27) unless a manager, finance officer or admin
asks for them in full (a POST, logged: one `operator_actions` row), on screen or as CSV; the
beneficiaries covered in a period per section (a facility's catchment), a page to print for
health centres without network and its CSV; member cards as a PDF (a household's sheet or a
section's). A section's operator sees their own section only."""

from __future__ import annotations

import datetime as dt

from flask import Response, abort, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from gateway.clock import local_date
from gateway.console.forms import WhyForm
from gateway.console.pages.filtering import MAX_ID
from gateway.console.pages.reports import csv_response
from gateway.console.views import (
    WRITERS,
    actor,
    console_view,
    current_scope,
    get_or_404,
    scoped,
)
from gateway.handlers import request_session, runtime
from gateway.models import Agent, Household, Mutual, ScopeKind, Section
from gateway.services import reports
from gateway.services.operators import Where, record_action
from gateway.services.reports import ReportError, Span

REVEAL = "report.defaulters_phones"


def id_arg(name: str) -> int:
    """An id from the query or the form: 0 when absent; 400 when not a number we could hold."""
    raw = request.values.get(name, "").strip()
    if not raw:
        return 0
    if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_ID:
        abort(400, f"{name} must be a number")
    return int(raw)


def _where() -> tuple[Mutual, Section | None]:
    """The mutual and section asked for, inside the scope (a section's operator: theirs)."""
    mutual = get_or_404(Mutual, id_arg("mutual"))
    scope = current_scope()
    section_id = id_arg("section")
    if scope.kind == ScopeKind.SECTION:
        section_id = scope.section_id or 0
    section = get_or_404(Section, section_id) if section_id else None
    if section is not None and section.mutual_id != mutual.id:
        abort(404)
    return mutual, section


def _today(mutual: Mutual) -> dt.date:
    return local_date(runtime().clock.now(), mutual.timezone)


def _span(mutual: Mutual, default_today: bool) -> Span | None:
    raw = request.values.get("period", "").strip()
    if not raw:
        return reports.day_span(_today(mutual)) if default_today else None
    try:
        return reports.parse_span(raw)
    except ReportError as exc:
        abort(400, str(exc))


def _defaulters() -> tuple[Mutual, Section | None, Span | None, list[reports.Defaulter]]:
    mutual, section = _where()
    span = _span(mutual, default_today=False)
    rows = reports.defaulters(
        request_session(), mutual, on=_today(mutual), section=section, span=span
    )
    return mutual, section, span, rows


@console_view("/reports/defaulters")
def defaulters_report() -> ResponseReturnValue:
    """Phones masked; `?format=csv`: the same list as CSV, phones masked."""
    mutual, section, span, rows = _defaulters()
    if request.args.get("format") == "csv":
        return csv_response(reports.defaulters_csv(rows, masked=True), _name(mutual, "owing"))
    return _defaulters_page(mutual, section, span, rows, revealed=False)


@console_view("/reports/defaulters/phones", roles=WRITERS, methods=("POST",))
def defaulters_phones() -> ResponseReturnValue:
    """D27: the phones in full, once, for those whose role may see them; logged."""
    mutual, section, span, rows = _defaulters()
    if not WhyForm().validate_on_submit():
        abort(400, "a reason is required to show the phones")
    as_csv = request.form.get("format") == "csv"
    db = request_session()
    record_action(
        db,
        actor(),
        REVEAL,
        ("mutual", mutual.id),
        now=runtime().clock.now(),
        where=Where(mutual_id=mutual.id, section_id=section.id if section else None),
        after={"households": len(rows), "csv": as_csv, "period": span.label if span else None},
        reason=(request.form.get("reason") or "").strip(),
    )
    db.commit()
    if as_csv:
        return csv_response(reports.defaulters_csv(rows, masked=False), _name(mutual, "owing"))
    return _defaulters_page(mutual, section, span, rows, revealed=True)


def _defaulters_page(
    mutual: Mutual,
    section: Section | None,
    span: Span | None,
    rows: list[reports.Defaulter],
    *,
    revealed: bool,
) -> ResponseReturnValue:
    return render_template(
        "console/report_defaulters.html",
        mutual=mutual,
        section=section,
        span=span,
        rows=rows,
        revealed=revealed,
        form=WhyForm(),
        today=_today(mutual),
    )


def _name(mutual: Mutual, what: str) -> str:
    return f"{mutual.code}-{what}.csv"


@console_view("/reports/covered")
def covered_report() -> ResponseReturnValue:
    """In a section, or a facility's catchment (`facility=<agent id>`: its agent's section)."""
    mutual, section = _where()
    facility_id = id_arg("facility")
    if facility_id:
        agent = get_or_404(Agent, facility_id)
        if agent.mutual_id != mutual.id or agent.role != "facility" or agent.section_id is None:
            abort(404)
        section = get_or_404(Section, agent.section_id)
    span = _span(mutual, default_today=True)
    assert span is not None
    rows = reports.covered(request_session(), mutual, span=span, section=section)
    if request.args.get("format") == "csv":
        return csv_response(reports.covered_csv(rows), _name(mutual, f"covered-{span.label}"))
    return render_template(
        "console/report_covered.html", mutual=mutual, section=section, span=span, rows=rows
    )


@console_view("/reports/cards")
def cards_pdf() -> ResponseReturnValue:
    """A household's sheet (`household=NUMBER`) or a section's (`section=ID`), as a PDF."""
    db = request_session()
    mutual, section = _where()
    today = _today(mutual)
    number = request.args.get("household", "").strip()
    if number:
        query = scoped(select(Household), Household).where(
            Household.mutual_id == mutual.id, Household.number == number
        )
        household = db.scalars(query).one_or_none()
        if household is None:
            abort(404)
        sheets = [reports.household_cards(db, household, today)]
        name = f"{mutual.code}-cards-{number}.pdf"
    elif section is not None:
        sheets = reports.section_sheets(db, mutual, section, today)
        name = f"{mutual.code}-cards-{section.name}.pdf"
    else:
        abort(400, "give a household number or a section")
    pdf = reports.cards_pdf(sheets, mutual.default_language)
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
