"""`/console/audit`: the operator actions log inside the scope, newest first, keyset-paged on
(occurred_at, id) (console.md, D27)."""

from __future__ import annotations

from flask import abort, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from gateway.console.paging import BadCursor, Page, keyset_page
from gateway.console.views import console_view, scoped
from gateway.handlers import request_session
from gateway.models import OperatorAction, User


@console_view("/audit")
def audit() -> ResponseReturnValue:
    db = request_session()
    query = scoped(select(OperatorAction), OperatorAction)
    try:
        page: Page[OperatorAction] = keyset_page(
            db, query, OperatorAction.occurred_at, OperatorAction.id, request.args.get("after")
        )
    except BadCursor:
        abort(400, "bad page cursor")
    ids = {row.user_id for row in page.items if row.user_id is not None}
    who = select(User.id, User.login).where(User.id.in_(ids))
    logins = {user_id: login for user_id, login in db.execute(who)} if ids else {}
    return render_template("console/audit.html", page=page, logins=logins)
