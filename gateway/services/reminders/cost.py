"""A campaign's SMS cost before it starts (messaging.md, "Text and cost"): recipients x
messages x segments x price per segment, the price chosen per operator by phone prefix.

Prices come from the mutual's TOML `[sms]` table, stored in `mutuals.sms_settings`:
`price_per_segment` (XOF, default DEFAULT_PRICE) and optional `[[sms.operators]]` with `name`,
`prefixes` (E.164 prefixes such as "+22607") and their own `price_per_segment`."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from gateway.lib import gsm7
from gateway.models import Campaign, Mutual, ReminderRule
from gateway.services.messaging import render_sms
from gateway.services.reminders.record import params
from gateway.services.reminders.targets import Target

DEFAULT_PRICE = 25  # XOF per segment when the mutual's file names none


@dataclass
class Estimate:
    recipients: int = 0
    messages: int = 0
    segments: int = 0
    cost: int = 0  # XOF
    by_operator: dict[str, int] = field(default_factory=dict)  # operator -> XOF

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def add(self, other: Estimate) -> None:
        """Sum another batch's estimate into this one (a campaign estimated in batches)."""
        self.recipients += other.recipients
        self.messages += other.messages
        self.segments += other.segments
        self.cost += other.cost
        for operator, cost in other.by_operator.items():
            self.by_operator[operator] = self.by_operator.get(operator, 0) + cost


def price_list(settings: dict[str, Any]) -> tuple[int, list[tuple[str, str, int]]]:
    """(default price, [(prefix, operator, price)] longest prefix first)."""
    default = int(settings.get("price_per_segment", DEFAULT_PRICE))
    prefixes = [
        (str(prefix), str(op.get("name", "?")), int(op.get("price_per_segment", default)))
        for op in settings.get("operators", [])
        for prefix in op.get("prefixes", [])
    ]
    return default, sorted(prefixes, key=lambda p: -len(p[0]))


def price_for(phone: str, default: int, prefixes: list[tuple[str, str, int]]) -> tuple[str, int]:
    for prefix, operator, price in prefixes:
        if phone.startswith(prefix):
            return operator, price
    return "default", default


def occurrence_days(campaign: Campaign, rule: ReminderRule, anchor: dt.date | None) -> int:
    """How many times the rule fires over the whole campaign (for one household)."""
    if rule.anchor == "coverage_end":
        if anchor is None:
            return 0
    else:
        anchor = campaign.opens_on if rule.anchor == "opens" else campaign.closes_on
    day = anchor + dt.timedelta(days=rule.offset_days)
    if rule.anchor != "coverage_end" and not rule.repeat_every_days:
        return 1
    count = 0
    while day <= campaign.closes_on:
        count += day >= campaign.opens_on or rule.anchor != "coverage_end"
        if not rule.repeat_every_days:
            break
        day += dt.timedelta(days=rule.repeat_every_days)
    return max(count, 1 if rule.anchor != "coverage_end" else 0)


def estimate_campaign(mutual: Mutual, campaign: Campaign, targets: list[Target]) -> Estimate:
    """Every reminder the campaign would send to today's targets that have a phone."""
    default, prefixes = price_list(mutual.sms_settings or {})
    estimate = Estimate()
    segments: dict[tuple[int, str], int] = {}
    for target in targets:
        if target.phone is None:
            continue
        operator, price = price_for(target.phone, default, prefixes)
        counted = False
        for rule in campaign.reminders:
            times = occurrence_days(campaign, rule, target.coverage_end)
            if not times:
                continue
            key = (rule.id, target.language)
            if key not in segments:
                text = render_sms(
                    rule.template, target.language, params(mutual, campaign, rule, target)
                )
                segments[key] = gsm7.segments(text)
            cost = times * segments[key] * price
            estimate.messages += times
            estimate.segments += times * segments[key]
            estimate.cost += cost
            estimate.by_operator[operator] = estimate.by_operator.get(operator, 0) + cost
            counted = True
        estimate.recipients += counted
    return estimate
