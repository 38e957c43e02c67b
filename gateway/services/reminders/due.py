"""Campaign reminders (D14-D17; messaging.md, "Campaign reminders"): the occurrences due now.

For every mutual and every campaign whose rules may fall on the mutual's local date (from the
earliest day a rule falls on, before the opening for a negative offset, to a little after the
closing), each rule (D15) has occurrence moments: the anchor day (the campaign's opening or
closing, or each household's coverage end) plus `offset_days`, repeated every
`repeat_every_days` until the campaign closes, each at the start of the sending window (D16,
`quiet_hours_end` local). Outside the window nothing is done; inside it, the latest due
occurrence is sent if its moment is within `catch_up_hours`, else recorded `missed`; older
occurrences still within `catch_up_hours` are recorded `missed` so a catch-up never floods a
member. Once a campaign has closed nothing is sent: what fell due is recorded `missed`.
A household gets at most one of the reminders due in a run (and one a local day):
gateway.services.reminders.daily. Targets: gateway.services.reminders.targets; the
at-most-once record (D17): gateway.services.reminders.record.

A paused campaign (provider balance exhausted) sends nothing; a campaign whose estimated cost
exceeds its budget does not start (an alert says why, nothing is recorded)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from gateway import clock
from gateway.models import Campaign, Household, Mutual, ReminderOccurrence, ReminderRule
from gateway.services.alerts import raise_alert
from gateway.services.messaging import in_window, window_opens
from gateway.services.reminders import daily, record
from gateway.services.reminders.cost import Estimate, estimate_campaign
from gateway.services.reminders.record import Due, Occurrence
from gateway.services.reminders.targets import BATCH, Selection, Target, gc_paused, iter_selections

ANCHORS = ("opens", "closes", "coverage_end")


@dataclass
class ReminderRun:
    """What one run did, in households; outside_window counts the rules (households for
    coverage_end rules) whose latest due occurrence met quiet hours: nothing done; paused and
    over_budget count campaigns left alone; skipped_daily counts the reminders recorded
    skipped because the household got another one that day (D15)."""

    sent: int = 0
    missed: int = 0
    skipped_consent: int = 0
    skipped_paid: int = 0
    skipped_no_phone: int = 0
    skipped_daily: int = 0
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


def first_day(campaign: Campaign) -> dt.date:
    """The earliest day a campaign-anchored rule falls on: before the opening for a negative
    offset (D15: announcing the campaign ahead of the harvest), else the opening."""
    days = [campaign.opens_on]
    for rule in campaign.reminders:
        if rule.anchor in ("opens", "closes"):
            days.append(anchor_day(campaign, rule) + dt.timedelta(days=rule.offset_days))
    return min(days)


def anchor_day(campaign: Campaign, rule: ReminderRule) -> dt.date:
    return campaign.opens_on if rule.anchor == "opens" else campaign.closes_on


def closed_horizon(mutual: Mutual) -> dt.timedelta:
    """How long after its closing day a campaign is still looked at, so that an occurrence
    whose moment passed while the system was down is recorded missed (D16), not lost."""
    return dt.timedelta(days=-(-mutual.catch_up_hours // 24) + 1)


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


def _campaigns(session: Session, mutual: Mutual, today: dt.date) -> list[Campaign]:
    """The campaigns with a rule that may fall today: from their first_day to their closing
    day plus closed_horizon."""
    found = session.scalars(
        select(Campaign)
        .where(Campaign.mutual_id == mutual.id)
        .where(Campaign.closes_on >= today - closed_horizon(mutual))
        .options(selectinload(Campaign.reminders))
        .order_by(Campaign.id)
    ).all()
    return [c for c in found if first_day(c) <= today]


def _run_mutual(session: Session, mutual: Mutual, now: dt.datetime, run: ReminderRun) -> None:
    """Every campaign's due reminders, then D15's one a day per household across them, one
    batch of households at a time (targets.iter_selections, in household id order): a
    household's reminders of every campaign are in the same batch, so the daily pick sees
    them all, and a run holds one batch in memory whatever the mutual's size (issue 19)."""
    today = now.astimezone(zone(mutual)).date()
    started: list[tuple[Campaign, list[ReminderRule]]] = []
    for campaign in _campaigns(session, mutual, today):
        if campaign.paused_at is not None:
            run.paused += 1
            continue
        rules = _rules(mutual, campaign, now)
        if not rules:
            continue
        if not _may_start(session, mutual, campaign, today, now):
            run.over_budget += 1
            continue
        started.append((campaign, rules))
    if not started:
        return
    for first, parts in _batches(session, mutual, started, today):
        due: list[Due] = []
        for (campaign, rules), selection in zip(started, parts, strict=True):
            run.skipped_paid += selection.skipped_paid
            run.skipped_consent += selection.skipped_consent
            for rule in rules:
                due.extend(
                    _run_rule(session, mutual, campaign, rule, selection.targets, now, run, first)
                )
        counts = daily.record_day(session, mutual, due, today, now)
        run.sent += counts.sent
        run.skipped_no_phone += counts.no_phone
        run.skipped_daily += counts.skipped_daily


def _rules(mutual: Mutual, campaign: Campaign, now: dt.datetime) -> list[ReminderRule]:
    """The campaign's rules that may have an occurrence due (every coverage_end rule: its
    occurrences depend on each household)."""
    return [
        rule
        for rule in campaign.reminders
        if rule.anchor in ANCHORS
        and (rule.anchor == "coverage_end" or occurrences(mutual, campaign, rule, now))
    ]


def _batches(
    session: Session,
    mutual: Mutual,
    started: list[tuple[Campaign, list[ReminderRule]]],
    today: dt.date,
) -> Iterator[tuple[bool, list[Selection]]]:
    """Batches of households by id range, each with every started campaign's selection in
    that range (first: whether it is the first batch). At least one batch, even empty, so
    that a campaign-anchored rule's outside-window count does not depend on the register."""
    after = 0
    first = True
    while True:
        high = _batch_end(session, mutual, after)
        parts = [
            _selection_between(session, mutual, campaign, today, after, high)
            for campaign, _ in started
        ]
        yield first, parts
        first = False
        if high is None:
            return
        after = high


def _batch_end(session: Session, mutual: Mutual, after: int) -> int | None:
    """The id of the BATCH-th household of the mutual after `after`, or None past the end."""
    return session.scalar(
        select(Household.id)
        .where(Household.mutual_id == mutual.id, Household.id > after)
        .order_by(Household.id)
        .offset(BATCH - 1)
        .limit(1)
    )


def _selection_between(
    session: Session,
    mutual: Mutual,
    campaign: Campaign,
    today: dt.date,
    after: int,
    high: int | None,
) -> Selection:
    """The campaign's targets among households with after < id <= high (None: no bound)."""
    return Selection.merged(
        iter_selections(session, mutual, campaign, today, after=after, until=high)
    )


def _groups(
    mutual: Mutual,
    campaign: Campaign,
    rule: ReminderRule,
    targets: list[Target],
    now: dt.datetime,
) -> dict[tuple[Occurrence, ...], list[Target]]:
    """The targets by their due occurrences (one group for campaign anchors)."""
    if rule.anchor != "coverage_end":
        return {tuple(occurrences(mutual, campaign, rule, now)): targets}
    groups: dict[tuple[Occurrence, ...], list[Target]] = {}
    for target in targets:
        found = occurrences(mutual, campaign, rule, now, target.coverage_end)
        if found:
            groups.setdefault(tuple(found), []).append(target)
    return groups


def _run_rule(
    session: Session,
    mutual: Mutual,
    campaign: Campaign,
    rule: ReminderRule,
    targets: list[Target],
    now: dt.datetime,
    run: ReminderRun,
    first: bool = True,
) -> list[Due]:
    """Record missed occurrences and return the latest of each group still to send. Once the
    campaign has closed (the mutual's local date after closes_on) nothing is sent: its due
    occurrences are recorded missed, whatever the hour (D16). A campaign-anchored rule's
    outside-window count is the rule's, counted with the first batch of households only."""
    catch_up = dt.timedelta(hours=mutual.catch_up_hours)
    local = now.astimezone(zone(mutual))
    closed = local.date() > campaign.closes_on
    open_window = in_window(mutual, local)
    to_send: list[Due] = []
    for due, members in _groups(mutual, campaign, rule, targets, now).items():
        latest = due[-1]
        if not (open_window or closed):
            if now - latest.due_at <= catch_up:
                if rule.anchor == "coverage_end":
                    run.outside_window += len(members)
                elif first:
                    run.outside_window += 1
            continue
        missed = [o for o in due[:-1] if now - o.due_at <= catch_up]
        sendable = not closed and now - latest.due_at <= catch_up
        if not sendable:
            missed.append(latest)
        for occurrence in missed:
            items = [Due(t, occurrence, campaign, rule) for t in members]
            run.missed += record.record(session, items, "missed", local.date(), now)
        if sendable:
            items = [Due(t, latest, campaign, rule) for t in members]
            to_send.extend(record.unrecorded(session, campaign, rule, items))
    return to_send


def _may_start(
    session: Session, mutual: Mutual, campaign: Campaign, today: dt.date, now: dt.datetime
) -> bool:
    """messaging.md "Text and cost": a campaign that has sent nothing yet starts only if its
    estimated cost fits its budget; otherwise an alert (once) and nothing is recorded. The
    estimate is summed batch by batch (targets.iter_selections)."""
    if campaign.budget is None or _started(session, campaign):
        return True
    estimate = Estimate()
    for part in iter_selections(session, mutual, campaign, today):
        estimate.add(estimate_campaign(mutual, campaign, part.targets))
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
