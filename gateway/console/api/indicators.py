"""`GET /api/v1/indicators?mutual=&period=&section=` (console.md, D22, issue 17): the stored
indicators of a mutual (or of every mutual in the token's scope: the union or deployment
roll-up), optionally one section, for a year or a month; the same document as
`gateway indicators --json`. Read from the `indicators` table only."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, jsonify, request
from sqlalchemy import select

from gateway.console.api.common import iso
from gateway.console.views import api_view, current_scope, scoped
from gateway.handlers import request_session
from gateway.models import Indicator, Mutual, Section
from gateway.services.indicators import BadPeriod, computed_at, parse_period, read_figures


@api_view("/indicators")
def indicators() -> Response:
    """`period` is required (YYYY or YYYY-MM); a mutual or section outside the scope is a 404."""
    db = request_session()
    raw = request.args.get("period")
    if not raw:
        abort(400, "period is required: YYYY or YYYY-MM")
    try:
        period = parse_period(raw).label
    except BadPeriod as exc:
        abort(400, str(exc))
    mutuals = list(db.scalars(scoped(select(Mutual), Mutual)))
    scope: dict[str, Any] = {}
    ids = [m.id for m in mutuals]
    if code := request.args.get("mutual"):
        found = next((m for m in mutuals if m.code == code), None)
        if found is None:
            abort(404, f"no mutual {code!r} in this token's scope")
        ids, scope["mutual"] = [found.id], found.code
    section_id = None
    if name := request.args.get("section"):
        if "mutual" not in scope:
            abort(400, "section needs mutual (a section belongs to one mutual)")
        query = scoped(select(Section), Section).where(
            Section.mutual_id == ids[0], Section.name == name
        )
        section = db.scalars(query).first()
        if section is None:
            abort(404, f"no section {name!r} in this token's scope")
        section_id, scope["section"] = section.id, section.name
    if not scope:
        scope = {"mutuals": sorted(m.code for m in mutuals)}
    where = current_scope().condition(Indicator)
    figures = read_figures(db, period, ids, section_id, where)
    return jsonify(
        {
            "scope": scope,
            "period": period,
            "computed_at": iso(computed_at(db, ids, period)),
            "indicators": [f.as_dict() for f in figures],
        }
    )
