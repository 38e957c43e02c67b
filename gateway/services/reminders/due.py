"""Campaign reminders (D14-D17; messaging.md, "Campaign reminders"): the occurrences due now.

For every mutual and every campaign open on the mutual's local date, each rule (D15) has
occurrence moments: the anchor day (the campaign's opening or closing, or each household's
coverage end) plus `offset_days`, repeated every `repeat_every_days` until the campaign closes,
each at the start of the sending window (D16, `quiet_hours_end` local). Outside the window
nothing is done; inside it, the latest due occurrence is sent if its moment is within
`catch_up_hours`, else recorded `missed`; older occurrences still within `catch_up_hours` are
recorded `missed` so a catch-up never floods a member. The window: gateway.services.messaging.
window; targets: gateway.services.reminders.targets; the at-most-once record (D17): gateway.
services.reminders.record.

A paused campaign (provider balance exhausted) sends nothing; a campaign whose estimated cost
exceeds its budget does not start (an alert says why, nothing is recorded)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from gateway import clock
from gateway.models import Campaign, Mutual, ReminderOccurrence, ReminderRule
from gateway.services.alerts import raise_alert
from gateway.services.messaging import in_window, window_opens
from gateway.services.reminders import record
from gateway.services.reminders.cost import estimate_campaign
from gateway.services.reminders.record import Due, Occurrence
from gateway.services.reminders.targets import Selection, Target, gc_paused, select_targets

ANCHORS = ("opens", "closes", "coverage_end")


@dataclass
class ReminderRun:
    """What one run did, in households; outside_window counts the rules (households for
    coverage_end rules) whose latest due occurrence met quiet hours: nothing done; paused and
    over_budget count campaigns left alone."""

    sent: int = 0
    missed: int = 0
    skipped_consent: int = 0
    skipped_paid: int = 0
    skipped_no_phone: int = 0
    outside_window: int = 0
    paused: int = 0
    over_budget: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def zone(mutual: Mutual) -> ZoneInfo:
    return clock.zone(mutual.timezone)


def occurrences(
    mutual: Mutual,
    campaign: Campaign,
    rule: ReminderRule,
    now: dt.datetime,
    anchor: dt.date | None = None,
) -> list[Occurrence]:
    """D15: the rule's occurrences whose moment is at or before `now`, oldest first. A
    coverage_end rule needs the household's coverage end as `anchor`; its occurrences before
    the campaign opened are not the campaign's, and are indexed by their day's ordinal."""
    if rule.anchor == "coverage_end":
        if anchor is None:
            return []
    else:
        anchor = campaign.opens_on if rule.anchor == "opens" else campaign.closes_on
    first = anchor + dt.timedelta(days=rule.offset_days)
    found: list[Occurrence] = []
    index, day = 0, first
    while day <= campaign.closes_on or (index == 0 and rule.anchor != "coverage_end"):
        moment = window_opens(mutual, day)
        if moment > now:
            break
        if rule.anchor != "coverage_end":
            found.append(Occurrence(index, moment, day))
        elif day >= campaign.opens_on:
            found.append(Occurrence(day.toordinal(), moment, day))
        if not rule.repeat_every_days:
            break
        index += 1
        day = first + dt.timedelta(days=index * rule.repeat_every_days)
    return found


def run_reminders(session: Session, now: dt.datetime) -> ReminderRun:
    """D14-D17: record and queue every campaign reminder due at `now` (UTC, aware)."""
    if now.tzinfo is None:
        raise ValueError("run_reminders needs a timezone-aware datetime")
    now = now.astimezone(dt.UTC)
    run = ReminderRun()
    with gc_paused():
        for mutual in list(session.scalars(select(Mutual).order_by(Mutual.id))):
            _run_mutual(session, mutual, now, run)
    return run


def _run_mutual(session: Session, mutual: Mutual, now: dt.datetime, run: ReminderRun) -> None:
    today = now.astimezone(zone(mutual)).date()
    campaigns = session.scalars(
        select(Campaign)
        .where(Campaign.mutual_id == mutual.id, Campaign.opens_on <= today)
        .where(Campaign.closes_on >= today)
        .options(selectinload(Campaign.reminders))
        .order_by(Campaign.id)
    ).all()
    for campaign in campaigns:
        if campaign.paused_at is not None:
            run.paused += 1
            continue
        _run_campaign(session, mutual, campaign, now, run)


def _run_campaign(
    session: Session, mutual: Mutual, campaign: Campaign, now: dt.datetime, run: ReminderRun
) -> None:
    today = now.astimezone(zone(mutual)).date()
    selection: Selection | None = None
    for rule in campaign.reminders:
        if rule.anchor not in ANCHORS:
            continue
        if rule.anchor != "coverage_end" and not occurrences(mutual, campaign, rule, now):
            continue
        if selection is None:
            selection = select_targets(session, mutual, campaign, today)
            if not _may_start(session, mutual, campaign, selection, now):
                run.over_budget += 1
                return
            run.skipped_paid += selection.skipped_paid
            run.skipped_consent += selection.skipped_consent
        _run_rule(session, mutual, campaign, rule, selection.targets, now, run)


def _run_rule(
    session: Session,
    mutual: Mutual,
    campaign: Campaign,
    rule: ReminderRule,
    targets: list[Target],
    now: dt.datetime,
    run: ReminderRun,
) -> None:
    """Group the targets by their occurrences (one group for campaign anchors), then record
    missed ones and send the latest of each group within catch-up."""
    catch_up = dt.timedelta(hours=mutual.catch_up_hours)
    open_window = in_window(mutual, now)
    groups: dict[tuple[Occurrence, ...], list[Target]] = {}
    if rule.anchor == "coverage_end":
        for target in targets:
            found = occurrences(mutual, campaign, rule, now, target.coverage_end)
            if found:
                groups.setdefault(tuple(found), []).append(target)
    else:
        groups[tuple(occurrences(mutual, campaign, rule, now))] = targets
    for due, members in groups.items():
        latest = due[-1]
        if not open_window:
            if now - latest.due_at <= catch_up:
                run.outside_window += 1 if rule.anchor != "coverage_end" else len(members)
            continue
        missed = [o for o in due[:-1] if now - o.due_at <= catch_up]
        if now - latest.due_at > catch_up:
            missed.append(latest)
        for occurrence in missed:
            items = [Due(t, occurrence) for t in members]
            run.missed += record.record(session, campaign, rule, items, "missed", now)
        if now - latest.due_at <= catch_up:
            items = [Due(t, latest) for t in members]
            sent, no_phone = record.send(session, mutual, campaign, rule, items, now)
            run.sent += sent
            run.skipped_no_phone += no_phone


def _may_start(
    session: Session, mutual: Mutual, campaign: Campaign, selection: Selection, now: dt.datetime
) -> bool:
    """messaging.md "Text and cost": a campaign that has sent nothing yet starts only if its
    estimated cost fits its budget; otherwise an alert (once) and nothing is recorded."""
    if campaign.budget is None or _started(session, campaign):
        return True
    estimate = estimate_campaign(mutual, campaign, selection.targets)
    if estimate.cost <= campaign.budget:
        return True
    raise_alert(
        session,
        kind="campaign_over_budget",
        subject=f"{mutual.code}/{campaign.code}",
        detail=(
            f"estimated SMS cost {estimate.cost} XOF ({estimate.recipients} recipients, "
            f"{estimate.messages} messages, {estimate.segments} segments) exceeds the budget "
            f"of {campaign.budget} XOF: campaign not started"
        ),
        now=now,
        mutual_id=mutual.id,
        key=f"campaign-over-budget:{campaign.id}:{campaign.budget}",
    )
    return False


def _started(session: Session, campaign: Campaign) -> bool:
    found = session.scalar(
        select(ReminderOccurrence.id).where(ReminderOccurrence.campaign_id == campaign.id).limit(1)
    )
    return found is not None
