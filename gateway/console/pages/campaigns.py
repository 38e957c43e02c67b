"""`/console/campaigns` (D14-D17, console.md, issue 16): the campaigns of the scope with their
dates, budget and state; a campaign's page adds the estimate of `gateway reminders estimate`
(today's targets x messages x segments x price, against the budget) and its progress per day
(reminders recorded by status and local day). Pause and resume go through the same services
as the worker's provider pause and `gateway reminders resume` (gateway.services.messaging), in
one transaction with one `operator_actions` row; a pause needs a reason.

Campaigns carry no section: a section's operator sees none (scope.py)."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select

from gateway.console.forms import PauseForm, ReasonForm
from gateway.console.i18n import text
from gateway.console.views import actor, console_view, get_or_404, operator, scoped
from gateway.handlers import request_session, runtime
from gateway.models import Campaign, ReminderOccurrence, Role
from gateway.services.messaging import pause_campaign, resume_campaign
from gateway.services.operators import Where, record_action
from gateway.services.reminders import estimate_campaign, select_targets, zone

RUNNERS = (Role.MANAGER,)  # D27: managers run campaigns (admins: users and settings)
LIST_LIMIT = 200
PAUSED_BY_OPERATOR = "paused by an operator: {reason}"


@console_view("/campaigns")
def campaigns() -> ResponseReturnValue:
    db = request_session()
    query = scoped(select(Campaign), Campaign).order_by(
        Campaign.opens_on.desc(), Campaign.id.desc()
    )
    rows = list(db.scalars(query.limit(LIST_LIMIT)))
    sent = _sent_counts([c.id for c in rows])
    return render_template("console/campaigns.html", campaigns=rows, sent=sent)


def _sent_counts(ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    query = (
        select(ReminderOccurrence.campaign_id, func.count())
        .where(ReminderOccurrence.campaign_id.in_(ids), ReminderOccurrence.status == "sent")
        .group_by(ReminderOccurrence.campaign_id)
    )
    return {campaign_id: n for campaign_id, n in request_session().execute(query)}


@console_view("/campaigns/<int:campaign_id>")
def campaign(campaign_id: int) -> ResponseReturnValue:
    found = get_or_404(Campaign, campaign_id)
    db, now = request_session(), runtime().clock.now()
    mutual = found.mutual
    today = now.astimezone(zone(mutual)).date()
    estimate = estimate_campaign(mutual, found, select_targets(db, mutual, found, today).targets)
    within = found.budget is None or estimate.cost <= found.budget
    return render_template(
        "console/campaign.html",
        campaign=found,
        estimate=estimate,
        within=within,
        days=_progress(found.id),
        pause_form=PauseForm(),
        resume_form=ReasonForm(),
    )


def _progress(campaign_id: int) -> list[tuple[object, dict[str, int]]]:
    """Reminders recorded per local day and status (sent, missed, skipped), newest first; one
    GROUP BY on the campaign's index (a campaign lasts weeks: a few dozen rows)."""
    query = (
        select(ReminderOccurrence.sent_on, ReminderOccurrence.status, func.count())
        .where(ReminderOccurrence.campaign_id == campaign_id)
        .group_by(ReminderOccurrence.sent_on, ReminderOccurrence.status)
    )
    days: dict[object, dict[str, int]] = {}
    for day, status, n in request_session().execute(query):
        days.setdefault(day, {})[status] = n
    return sorted(days.items(), key=lambda kv: str(kv[0]), reverse=True)


@console_view("/campaigns/<int:campaign_id>/pause", roles=RUNNERS, methods=("POST",))
def campaign_pause(campaign_id: int) -> ResponseReturnValue:
    found = get_or_404(Campaign, campaign_id)
    form = PauseForm()
    if not form.validate_on_submit():
        return _refused(campaign_id, text(_lang(), "reason_required"))
    db, now, reason = request_session(), runtime().clock.now(), (form.reason.data or "").strip()
    changed = pause_campaign(db, found, PAUSED_BY_OPERATOR.format(reason=reason), now)
    _record(found, "campaign.pause", paused=changed, reason=reason)
    db.commit()
    return _done(campaign_id)


@console_view("/campaigns/<int:campaign_id>/resume", roles=RUNNERS, methods=("POST",))
def campaign_resume(campaign_id: int) -> ResponseReturnValue:
    found = get_or_404(Campaign, campaign_id)
    form = ReasonForm()
    if not form.validate_on_submit():
        return _refused(campaign_id, text(_lang(), "reason_required"))
    db, now = request_session(), runtime().clock.now()
    was = found.paused_reason
    waiting = resume_campaign(db, found, now)
    _record(found, "campaign.resume", was=was, waiting=waiting, reason=form.reason.data or "")
    db.commit()
    return _done(campaign_id)


def _record(found: Campaign, action: str, *, reason: str, **after: object) -> None:
    record_action(
        request_session(),
        actor(),
        action,
        ("campaign", found.id),
        now=runtime().clock.now(),
        where=Where(mutual_id=found.mutual_id),
        after=dict(after),
        reason=reason.strip(),
    )


def _refused(campaign_id: int, message: str) -> ResponseReturnValue:
    request_session().rollback()
    flash(message, "error")
    return redirect(url_for("console.campaign", campaign_id=campaign_id))


def _done(campaign_id: int) -> ResponseReturnValue:
    flash(text(_lang(), "users_done"), "ok")
    return redirect(url_for("console.campaign", campaign_id=campaign_id))


def _lang() -> str:
    return operator().language
