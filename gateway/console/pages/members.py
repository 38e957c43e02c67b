"""`/console/members?q=` (console.md, issue 16): find a member's household by household
number, member number, name prefix, phone or receipt code, inside the operator's scope
(gateway.console.search); each result links to the household page."""

from __future__ import annotations

from flask import render_template, request
from flask.typing import ResponseReturnValue

from gateway.console.search import LIMIT, search
from gateway.console.views import console_view, current_scope
from gateway.handlers import request_session


@console_view("/members")
def members() -> ResponseReturnValue:
    q = request.args.get("q", "").strip()[:100]
    found = search(request_session(), current_scope(), q) if q else []
    return render_template("console/members.html", q=q, found=found, limit=LIMIT)
