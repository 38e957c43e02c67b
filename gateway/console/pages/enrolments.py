"""`/console/enrolments` (console.md, D24): the field enrolments of the scope waiting for a
manager, oldest first (keyset-paged on the id), each with its dependants and what it may
duplicate (the same phone, or the same name and year of birth in the section). A manager or an
admin approves one (its household and member numbers are generated, SMS go to the head and the
collector) or rejects it with a reason (SMS to the collector); one `operator_actions` row per
decision (D27), in the same transaction, through the service the CLI and the API use.

`/console/enrolments/new`: a manager or an admin enrols a household themselves. Every answer
is checked by the USSD's rules (services.members.enrolment.checked_enrolment), each refusal
shown by its field; possible duplicates are shown first and need a second submit ("enrol
anyway"); then the enrolment is created and approved in one transaction through
`decide_enrolment` (numbers, SMS to the head; no collector), one `enrolment.create` row."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from gateway.clock import zone
from gateway.console.forms import EnrolForm, dependant_rows
from gateway.console.i18n import text
from gateway.console.pages.opsforms import reason_given
from gateway.console.paging import BadCursor, Page, id_page
from gateway.console.views import actor, console_view, get_or_404, operator, scoped
from gateway.handlers import request_session, runtime
from gateway.models import Enrolment, EnrolmentStatus, Mutual, Role, Section
from gateway.services.members import (
    Dependant,
    EnrolmentError,
    EventError,
    Refused,
    Typed,
    checked_enrolment,
    create_enrolment,
    decide_enrolment,
    find_duplicates,
)

DECIDERS = (Role.ADMIN, Role.MANAGER)  # D27: managers run the members
PAGE = 50  # pending enrolments are a working list, not a log: the oldest first
LIST_LIMIT = 500  # mutuals and sections offered by the form


@console_view("/enrolments")
def enrolments() -> ResponseReturnValue:
    query = scoped(select(Enrolment), Enrolment).where(Enrolment.status == EnrolmentStatus.PENDING)
    query = query.options(selectinload(Enrolment.dependants))
    try:
        page: Page[Enrolment] = id_page(
            request_session(), query, Enrolment.id, request.args.get("after"), PAGE
        )
    except BadCursor:
        abort(400, "bad page cursor")
    return render_template(
        "console/enrolments.html",
        page=page,
        rows=page.items,
        can_decide=operator().role in DECIDERS,
        size=PAGE,
    )


@console_view("/enrolments/new", roles=DECIDERS, methods=("GET", "POST"))
def enrolment_new() -> ResponseReturnValue:
    form = EnrolForm()
    if not form.is_submitted():
        return _form(form)
    if not form.validate():  # the CSRF token was checked before (gateway.console)
        return _form(form, {k: text(_lang(), "enrolnew_err_form") for k in form.errors})
    db, now = request_session(), runtime().clock.now()
    mutual = get_or_404(Mutual, _id(form.mutual.data))
    section = get_or_404(Section, _id(form.section.data)) if form.section.data else None
    rows = _dependants(dependant_rows(request.form))
    typed = Typed(
        name=form.name.data or "",
        sex=form.sex.data or "",
        year=form.year.data or "",
        phone=form.phone.data or "",
        section_id=section.id if section else None,
        language=form.language.data or "fr",
        dependants=[d for _, d in rows],
    )
    today = now.astimezone(zone(mutual.timezone)).date()
    try:
        enrolment = checked_enrolment(db, mutual, typed, today=today)
    except Refused as exc:
        return _form(form, _messages(exc.errors, [n for n, _ in rows], today.year))
    duplicates = find_duplicates(db, enrolment)
    if duplicates and form.seen.data != _digest(duplicates):
        return _form(form, duplicates=duplicates, seen=_digest(duplicates))
    try:
        created = create_enrolment(db, enrolment, now)
        row = decide_enrolment(
            db,
            created,
            "approve",
            by=f"console:{operator().login}",
            actor=actor(),
            reason="",
            now=now,
            created=True,
        )
    except (EnrolmentError, EventError) as exc:
        db.rollback()
        flash(text(_lang(), "enrolments_refused", reason=str(exc)), "error")
        return _form(form)
    db.commit()  # the head's SMS send jobs are enqueued once this commits
    flash(
        text(_lang(), "enrolnew_done", household=row["household"], name=row["head"]["name"]), "ok"
    )
    return redirect(url_for("console.household", number=row["household"], mutual=mutual.code))


def _form(
    form: EnrolForm,
    errors: dict[str, str] | None = None,
    *,
    duplicates: list[dict[str, Any]] | None = None,
    seen: str = "",
) -> ResponseReturnValue:
    db = request_session()
    mutuals = scoped(select(Mutual), Mutual).order_by(Mutual.code).limit(LIST_LIMIT)
    sections = scoped(select(Section), Section).order_by(Section.mutual_id, Section.name)
    form.seen.data = seen  # "enrol anyway" confirms these duplicates, no others
    return render_template(
        "console/enrolment_new.html",
        form=form,
        errors=errors or {},
        duplicates=duplicates or [],
        mutuals=list(db.scalars(mutuals)),
        sections=list(db.scalars(sections.limit(LIST_LIMIT))),
        rows=dependant_rows(request.form),
    ), 200 if not errors else 422


def _id(value: str | None) -> int:
    """A posted id; anything else is an id that does not exist (404, as outside the scope)."""
    text_ = (value or "").strip()
    return int(text_) if text_.isascii() and text_.isdigit() and len(text_) < 10 else 0


def _dependants(rows: list[dict[str, str]]) -> list[tuple[int, Dependant]]:
    """The rows typed with their number on the form (1...), blank ones left out."""
    typed = [
        (n, Dependant(row["name"], row["sex"], row["year"])) for n, row in enumerate(rows, start=1)
    ]
    return [(n, d) for n, d in typed if (d.name + d.sex + d.year).strip()]


def _messages(errors: dict[str, str], numbers: list[int], year: int) -> dict[str, str]:
    """Each refused field with the words of its reason; a dependant's (`dep2_year`: the
    second one typed) under its row on the form (`dep5_year` if rows 1, 2 and 4 were blank)."""
    shown = {}
    for field, reason in errors.items():
        key = field
        if field.startswith("dep") and "_" in field:
            position, _, part = field[3:].partition("_")
            key = f"dep{numbers[int(position) - 1]}_{part}"
        shown[key] = text(_lang(), f"enrolnew_err_{reason}", year=year)
    return shown


def _digest(duplicates: list[dict[str, Any]]) -> str:
    raw = json.dumps(duplicates, sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def _lang() -> str:
    return operator().language


@console_view("/enrolments/<int:enrolment_id>/approve", roles=DECIDERS, methods=("POST",))
def enrolment_approve(enrolment_id: int) -> ResponseReturnValue:
    found = get_or_404(Enrolment, enrolment_id)
    if not FlaskForm().validate_on_submit():  # the CSRF token (checked before, kept explicit)
        return redirect(url_for("console.enrolments"))
    return _decide(found, "approve", "")


@console_view("/enrolments/<int:enrolment_id>/reject", roles=DECIDERS, methods=("POST",))
def enrolment_reject(enrolment_id: int) -> ResponseReturnValue:
    found = get_or_404(Enrolment, enrolment_id)
    reason = reason_given()
    if not reason:
        return redirect(url_for("console.enrolments"))
    return _decide(found, "reject", reason)


def _decide(found: Enrolment, verdict: str, reason: str) -> ResponseReturnValue:
    db = request_session()
    lang = operator().language
    try:
        row = decide_enrolment(
            db,
            found,
            verdict,
            by=f"console:{operator().login}",
            actor=actor(),
            reason=reason,
            now=runtime().clock.now(),
        )
    except (EnrolmentError, EventError) as exc:
        db.rollback()
        flash(text(lang, "enrolments_refused", reason=str(exc)), "error")
        return redirect(url_for("console.enrolments"))
    db.commit()  # SMS send jobs are enqueued once this commits (gateway.queueing.defer)
    if verdict == "approve":
        flash(text(lang, "enrolments_approved", id=row["id"], household=row["household"]), "ok")
    else:
        flash(text(lang, "enrolments_rejected", id=row["id"]), "ok")
    return redirect(url_for("console.enrolments"))
