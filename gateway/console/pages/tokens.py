"""API tokens on the console's users page (console.md "JSON API", issue 17): an admin creates a
token for a role and a scope inside their own (shown once, on the answer to the form, never
stored nor put in a cookie), lists those of their scope and revokes one. The same services as
`gateway tokens add|list|revoke`, each write in one transaction with its `operator_actions` row."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from gateway.console.forms import ReasonForm, TokenForm
from gateway.console.i18n import text
from gateway.console.pages.users import ADMIN, inside_scope
from gateway.console.views import actor, console_view, get_or_404, operator
from gateway.handlers import request_session, runtime
from gateway.models import ApiToken, Role
from gateway.services.operators import (
    OperatorError,
    add_token,
    parse_scope,
    revoke_token,
)


@console_view("/users/tokens", roles=ADMIN, methods=("POST",))
def token_new() -> ResponseReturnValue:
    form = TokenForm()
    if not form.validate_on_submit():
        flash("; ".join(f"{k}: {', '.join(v)}" for k, v in form.errors.items()), "error")
        return redirect(url_for("console.users"))
    db = request_session()
    try:
        scope = parse_scope(db, form.scope.data or "")
        inside_scope(scope)
        made = add_token(
            db,
            actor(),
            name=form.name.data or "",
            role=Role(form.role.data),
            scope=scope,
            now=runtime().clock.now(),
        )
    except OperatorError as exc:
        db.rollback()
        flash(str(exc), "error")
        return redirect(url_for("console.users"))
    db.commit()
    # Shown once, in this answer only (no redirect: a flash message would sit in the cookie).
    return render_template("console/token_created.html", token=made.row, secret=made.secret)


@console_view("/users/tokens/<int:token_id>/revoke", roles=ADMIN, methods=("POST",))
def token_revoke(token_id: int) -> ResponseReturnValue:
    found = get_or_404(ApiToken, token_id)
    if not ReasonForm().validate_on_submit():
        abort(400, "invalid form")
    db = request_session()
    try:
        revoke_token(db, actor(), found.name, now=runtime().clock.now())
    except OperatorError as exc:
        db.rollback()
        flash(str(exc), "error")
        return redirect(url_for("console.users"))
    db.commit()
    flash(text(operator().language, "tokens_revoked", name=found.name), "ok")
    return redirect(url_for("console.users"))
