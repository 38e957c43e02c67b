"""`/console/indicators` (D22, console.md, issue 17): the stored indicators of the operator's
scope for a period, a mutual (or every mutual in scope: the union or deployment roll-up) and
optionally a section, with SVG charts (recovery and paid-up share per section, campaign
progress per day against the previous campaign, collections by channel, SMS delivery), each
beside its table and a CSV link. Managers enter target populations (M.5) here; the change is
recorded and the mutual's figures are recomputed by the indicators job after the commit."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from urllib.parse import urlencode

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from markupsafe import Markup
from sqlalchemy import select

from gateway.console.charts import Bars, bar_chart, line_chart
from gateway.console.forms import TargetForm
from gateway.console.i18n import text
from gateway.console.pages import indicator_tables
from gateway.console.views import actor, console_view, current_scope, operator, scoped
from gateway.handlers import request_session, runtime
from gateway.models import Campaign, Indicator, IndicatorTarget, Mutual, Role, Section
from gateway.queueing import defer
from gateway.services.indicators import (
    BadPeriod,
    IndicatorError,
    computed_at,
    parse_period,
    read_figures,
    set_target,
)
from gateway.services.operators import Where, record_action

EDITORS = (Role.MANAGER,)  # D27: managers enter what the reports are measured against


@dataclass(frozen=True)
class View:
    period: str
    mutual: Mutual | None
    section: Section | None
    mutuals: list[Mutual]

    @property
    def mutual_ids(self) -> list[int]:
        return [self.mutual.id] if self.mutual else [m.id for m in self.mutuals]


def _view() -> View:
    """The request's filters inside the scope: a mutual or section outside it is a 404."""
    db = request_session()
    mutuals = list(db.scalars(scoped(select(Mutual), Mutual).order_by(Mutual.code)))
    raw = request.args.get("period") or f"{runtime().clock.now().year:04d}"
    try:
        period = parse_period(raw).label
    except BadPeriod as exc:
        abort(400, str(exc))
    code = request.args.get("mutual") or None
    mutual = next((m for m in mutuals if m.code == code), None)
    if code is not None and mutual is None:
        abort(404)
    if mutual is None and len(mutuals) == 1:
        mutual = mutuals[0]
    section = None
    if name := request.args.get("section"):
        query = scoped(select(Section), Section).where(Section.name == name)
        if mutual is not None:
            query = query.where(Section.mutual_id == mutual.id)
        section = db.scalars(query).first()
        if section is None:
            abort(404)
    return View(period, mutual, section, mutuals)


def _tables(view: View) -> dict[str, indicator_tables.Table]:
    db, scope = request_session(), current_scope()
    where = scope.condition(Indicator)
    section_id = view.section.id if view.section else None
    figures = read_figures(db, view.period, view.mutual_ids, section_id, where)
    mutual_id = view.mutual.id if view.mutual else None
    return {
        "figures": indicator_tables.Table(
            "figures",
            ["code", "key", "numerator", "denominator", "value"],
            [[f.code, f.key, f.numerator, f.denominator, f.value] for f in figures],
        ),
        "recovery": indicator_tables.recovery(db, view.period, view.mutual_ids, section_id, where),
        "channels": indicator_tables.channels(figures),
        "campaign": indicator_tables.campaign(db, mutual_id, figures, scope.condition(Campaign)),
        "sms": indicator_tables.sms(figures),
    }


@console_view("/indicators")
def indicators() -> ResponseReturnValue:
    view = _view()
    found = _tables(view)
    charts = _charts(found, operator().language)
    db = request_session()
    targets = list(db.scalars(scoped(select(IndicatorTarget), IndicatorTarget).limit(200)))
    return render_template(
        "console/indicators.html",
        view=view,
        tables=found,
        charts=charts,
        chart_names=indicator_tables.CHARTS,
        computed=computed_at(db, view.mutual_ids, view.period),
        targets=targets,
        sections={s.id: s for s in db.scalars(scoped(select(Section), Section))},
        form=TargetForm(),
        args={k: v for k, v in request.args.items()},
    )


def _num(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _charts(found: dict[str, indicator_tables.Table], lang: str) -> dict[str, Markup]:
    """The SVG of each chart, from the same rows as its table."""
    recovery = [(str(r[0]), [_num(r[3]), _num(r[6])]) for r in found["recovery"].rows]
    by_channel = [(str(r[0]), [_num(r[1])]) for r in found["channels"].rows]
    campaign = found["campaign"]
    lines = [(str(campaign.header[i]), [_num(r[i]) or 0.0 for r in campaign.rows]) for i in (1, 2)]
    sms = [("SMS", [_num(v) for v in found["sms"].rows[0][:3]])]
    return {
        "recovery": bar_chart(
            Bars(["PAID_UP", "M.6"], recovery, percent=True), text(lang, "indicators_recovery")
        ),
        "channels": bar_chart(Bars(["XOF"], by_channel), text(lang, "indicators_channels")),
        "campaign": line_chart(lines, text(lang, "indicators_campaign")),
        "sms": bar_chart(Bars(["sent", "delivered", "failed"], sms), text(lang, "indicators_sms")),
    }


def _back() -> ResponseReturnValue:
    """To the page with the same filters."""
    return redirect(url_for("console.indicators") + "?" + urlencode(list(request.args.items())))


@console_view("/indicators.csv")
def indicators_csv() -> ResponseReturnValue:
    """One chart's table (or every figure: `chart=figures`) as CSV."""
    name = request.args.get("chart", "figures")
    found = _tables(_view())
    if name not in found:
        abort(400, f"chart is one of {', '.join(found)}")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(found[name].header)
    writer.writerows(["" if v is None else v for v in row] for row in found[name].rows)
    filename = f"indicators-{name}-{_view().period}.csv"
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={filename}"},
    )


@console_view("/indicators/targets", roles=EDITORS, methods=("POST",))
def indicators_target() -> ResponseReturnValue:
    """M.5: a section's target population for a year; one operator action, then the job."""
    db, lang = request_session(), operator().language
    form = TargetForm()
    view = _view()
    if not form.validate_on_submit() or view.mutual is None:
        flash(text(lang, "indicators_target_refused"), "error")
        return _back()
    inside = scoped(select(Section), Section).where(
        Section.mutual_id == view.mutual.id, Section.name == (form.section.data or "")
    )
    if db.scalars(inside).first() is None:  # D27: a section outside the scope is refused
        flash(text(lang, "indicators_target_refused"), "error")
        return _back()
    now = runtime().clock.now()
    try:
        target, before = set_target(
            db,
            view.mutual,
            form.section.data or "",
            form.year.data or 0,
            form.population.data or 0,
            now,
        )
    except IndicatorError as exc:
        db.rollback()
        flash(str(exc), "error")
        return _back()
    record_action(
        db,
        actor(),
        "indicators.target",
        ("indicator_target", target.id),
        now=now,
        where=Where(mutual_id=view.mutual.id, section_id=target.section_id),
        before=None if before is None else {"population": before},
        after={"year": target.year, "population": target.population},
    )
    defer(db, "recompute-indicators", str(view.mutual.id), f"{target.year:04d}-01-01")
    db.commit()
    flash(text(lang, "indicators_target_saved"), "ok")
    return _back()
