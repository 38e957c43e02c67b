"""`/console/`: today's key figures for the operator's scope (console.md)."""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue

from gateway.console.figures import today_figures
from gateway.console.views import console_view, current_scope, operator
from gateway.handlers import request_session, runtime
from gateway.models import Mutual, ScopeKind, Section, Union


@console_view("/")
def home() -> ResponseReturnValue:
    db = request_session()
    figures = today_figures(db, current_scope(), runtime().clock.now())
    return render_template("console/home.html", figures=figures, scope_label=scope_label())


def scope_label() -> tuple[str, dict[str, str]]:
    """The catalog key and values naming the operator's scope (`mutual {name}`)."""
    user, db = operator(), request_session()
    if user.scope_kind == ScopeKind.UNION and user.scope_union_id:
        return "scope_union", {"name": _name(db.get(Union, user.scope_union_id))}
    if user.scope_kind == ScopeKind.SECTION and user.scope_section_id:
        section = db.get(Section, user.scope_section_id)
        return "scope_section", {"name": section.name if section else "?"}
    if user.scope_kind == ScopeKind.MUTUAL and user.scope_mutual_id:
        return "scope_mutual", {"name": _name(db.get(Mutual, user.scope_mutual_id))}
    return "scope_all", {}


def _name(row: Mutual | Union | None) -> str:
    return row.name if row is not None else "?"
