"""`/console/households/<number>` (console.md, issue 16): a household's beneficiaries with
their status (D11, D12, through the coverage service), the amount offered (D6b) and the
credit held (D7, the ledger), its phones masked, and ONE timeline of everything that
happened to it (gateway.console.timeline), keyset-paged.

A phone is revealed by a POST (manager, finance, admin: D27), which writes one
`operator_actions` row per reveal and shows the page with that phone in full once; nothing
keeps it revealed afterwards.

A manager records a dated event of the household (D23, issue 18) with the form at the foot of
the page (`gateway.console.events`: the same fields as `gateway members event`)."""

from __future__ import annotations

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from gateway.clock import local_date
from gateway.console import events
from gateway.console.i18n import text
from gateway.console.timeline import HOUSEHOLD_OBJECT, BadCursor, timeline_page
from gateway.console.views import WRITERS, actor, console_view, operator, scoped
from gateway.handlers import request_session, runtime
from gateway.models import Household, HouseholdPhone, Mutual, Role
from gateway.services.coverage import read_book, standing_of
from gateway.services.members import EVENT_TYPES, EventError
from gateway.services.operators import Where, record_action

REVEAL = "phone.reveal"
RECORDERS = (Role.ADMIN, Role.MANAGER)  # D27: managers change members


@console_view("/households/<number>")
def household(number: str) -> ResponseReturnValue:
    return _page(_household(number))


@console_view("/households/<number>/phones/<int:phone_id>/reveal", roles=WRITERS, methods=("POST",))
def reveal_phone(number: str, phone_id: int) -> ResponseReturnValue:
    """Show one phone in full, once, and log it (D27: who saw which member's number)."""
    found = _household(number)
    phone = next((p for p in found.phones if p.id == phone_id), None)
    if phone is None:
        abort(404)
    db = request_session()
    record_action(
        db,
        actor(),
        REVEAL,
        (HOUSEHOLD_OBJECT, found.id),
        now=runtime().clock.now(),
        where=Where(mutual_id=found.mutual_id, section_id=found.section_id),
        after={"phone_id": phone.id},
    )
    db.commit()
    return _page(found, revealed={phone.id: phone.msisdn})


@console_view("/households/<number>/events", roles=RECORDERS, methods=("POST",))
def household_event(number: str) -> ResponseReturnValue:
    """D23: record one dated event from the form (reason required), D3-D7 at once, and one
    `operator_actions` row; a refused or bad event writes nothing and says why (400)."""
    found = _household(number)
    db = request_session()
    now = runtime().clock.now()
    form = {k: v for k, v in request.form.items() if k in events.FIELDS}
    today = local_date(now, found.mutual.timezone)
    try:
        change = events.change_from(found, form, f"console:{operator().login}", today)
        recorded = events.record(db, found, change, actor(), now)
    except (events.Invalid, EventError) as exc:
        db.rollback()
        flash(text(operator().language, "hh_event_refused", reason=str(exc)), "error")
        return make_response(_page(_household(number), form=form), 400)
    day = recorded.event.effective_on.isoformat()
    db.commit()
    flash(text(operator().language, "hh_event_recorded", type=change.type, day=day), "ok")
    return redirect(url_for("console.household", number=number, mutual=found.mutual.code))


def _household(number: str) -> Household:
    """The household of that number inside the scope; `?mutual=CODE` picks one when several
    mutuals of the scope use the number (several: back to the search, which lists them)."""
    db = request_session()
    # its mutual and section are shown: read with it (two round trips less)
    query = scoped(
        select(Household)
        .where(Household.number == number)
        .options(joinedload(Household.mutual), joinedload(Household.section)),
        Household,
    )
    code = request.args.get("mutual")
    if code:
        query = query.join(Mutual, Mutual.id == Household.mutual_id).where(Mutual.code == code)
    found = list(db.scalars(query.limit(2)))
    if not found:
        abort(404)
    if len(found) > 1:
        abort(redirect(url_for("console.members", q=number)))
    return found[0]


def _page(
    found: Household,
    revealed: dict[int, str] | None = None,
    form: dict[str, str] | None = None,
) -> ResponseReturnValue:
    db = request_session()
    app = runtime()
    mutual = found.mutual
    today = local_date(app.clock.now(), mutual.timezone)
    book = read_book(db, found, today)  # its beneficiaries are the page's (one read)
    now = standing_of(db, found, today, book)
    names = {b.number: b for b in book.beneficiaries}
    phones = _phones(db, found)
    try:
        page = timeline_page(
            db,
            found,
            [p.msisdn for p in phones],
            app.settings.secret_key,
            request.args.get("after"),
        )
    except BadCursor:
        abort(400, "bad page cursor")
    return render_template(
        "console/household.html",
        household=found,
        mutual=mutual,
        standing=now,
        names=names,
        phones=phones,
        revealed=revealed or {},
        page=page,
        today=today,
        event_types=EVENT_TYPES,
        event_fields=events.DATA_FIELDS,
        form=form or {},
    )


def _phones(db: Session, found: Household) -> list[HouseholdPhone]:
    query = (
        select(HouseholdPhone)
        .where(HouseholdPhone.household_id == found.id)
        .order_by(HouseholdPhone.is_primary.desc(), HouseholdPhone.id)
    )
    return list(db.scalars(query))
