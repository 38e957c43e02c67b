"""The operator console (console.md, D27, issue 16): a Flask blueprint under /console.

`init_console(app)` wires sign-in (Flask-Login), CSRF (Flask-WTF, on the console's forms only:
the provider webhooks keep their own protection), the session cookie's flags, and the
templates' helpers; and the JSON API's blueprint under /api/v1 (gateway.console.api, bearer
tokens, no CSRF). Pages are modules of gateway.console.pages, each view declared through
`gateway.console.views.console_view`."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from flask import Flask, abort, g, request
from flask_login import LoginManager, UserMixin, current_user
from flask_wtf.csrf import CSRFProtect

from gateway.console.i18n import text
from gateway.console.views import api_bp, bp
from gateway.handlers import request_session
from gateway.lib.catalogs import DEFAULT_LANGUAGE, LANGUAGES
from gateway.lib.phones import mask_msisdn
from gateway.models import User

SESSION_HOURS = 8  # a working day; the cookie dies with it
csrf = CSRFProtect()


class Operator(UserMixin):
    """The signed-in user as Flask-Login sees it: the row, and an id that changes with the
    password, so a reset signs out every other session."""

    def __init__(self, row: User) -> None:
        self.row = row

    def get_id(self) -> str:
        return f"{self.row.id}:{fingerprint(self.row)}"

    @property
    def is_active(self) -> bool:
        return self.row.active


def fingerprint(user: User) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def load_operator(session_id: str) -> Operator | None:
    """The user of a session cookie, if still active and with the same password."""
    raw_id, _, mark = session_id.partition(":")
    if not raw_id.isdigit():
        return None
    user = request_session().get(User, int(raw_id))
    if user is None or not user.active or mark != fingerprint(user):
        return None
    return Operator(user)


def init_console(app: Flask, *, production: bool) -> None:
    """Register the console on `app`: blueprint, sign-in, CSRF, cookie flags, helpers."""
    from gateway.console import api, pages

    pages.load()
    api.load()
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=production,
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=SESSION_HOURS),
        WTF_CSRF_CHECK_DEFAULT=False,  # checked by the console blueprint only (below)
        WTF_CSRF_TIME_LIMIT=SESSION_HOURS * 3600,
    )
    csrf.init_app(app)
    login = LoginManager(app)
    login.login_view = "console.login"
    login.login_message = None
    login.session_protection = "basic"
    login.user_loader(load_operator)
    app.register_blueprint(bp)
    app.register_blueprint(api_bp)


@bp.before_request
def _protect_forms() -> None:
    """Every console request that writes carries the form's CSRF token (400 otherwise), and
    no value of a request holds a NUL byte, which no column can store (PostgreSQL refuses
    it even in a WHERE clause): a 400 that says so, not a database error."""
    refuse_nul()
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@api_bp.before_request
def _refuse_nul_in_api() -> None:
    refuse_nul()


def refuse_nul() -> None:
    """400 when the path, the query or a form field holds a NUL byte."""
    values = [
        *(str(v) for v in (request.view_args or {}).values()),
        *(item for pair in request.args.items(multi=True) for item in pair),
    ]
    if request.method not in ("GET", "HEAD", "OPTIONS") and request.mimetype in FORM_TYPES:
        values += [item for pair in request.form.items(multi=True) for item in pair]
    if any("\x00" in value for value in values):
        abort(400, "a value of the request contains a NUL byte")


def language() -> str:
    """The signed-in operator's language, else the browser's choice among ours, else French."""
    if current_user.is_authenticated:
        return str(current_user.row.language)
    best = request.accept_languages.best_match(list(LANGUAGES))
    return best or DEFAULT_LANGUAGE


@bp.context_processor
def _helpers() -> dict[str, Any]:
    lang = language()
    g.lang = lang
    return {
        "t": lambda key, **values: text(lang, key, **values),
        "lang": lang,
        "languages": LANGUAGES,
        "mask_phone": mask_phone,
    }


def mask_phone(phone: str | None) -> str:
    """`+22670****12` for templates: every phone shown is masked unless revealed (D27)."""
    return mask_msisdn(phone) if phone else ""
