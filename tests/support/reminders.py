"""A campaign's world for the reminder tests: a mutual in Nairobi with households that are owing,
paid, opted out, without a phone or in another section, and a campaign with two rules."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from gateway.models import (
    Allocation,
    Campaign,
    Household,
    Mutual,
    ReminderRule,
    Section,
)
from gateway.services.coverage.periods import Period, period_row
from tests.support.factories import make_household, make_mutual

# Africa/Nairobi is UTC+3: the sending window 08:00-20:00 local is 05:00-17:00 UTC.
OPENS = dt.date(2026, 11, 2)
WINDOW_OPENS = dt.datetime(2026, 11, 2, 5, 0, tzinfo=dt.UTC)  # 08:00 local on the opening day
FOR_PERIOD = dt.date(2027, 1, 1)


@dataclass
class World:
    mutual: Mutual
    campaign: Campaign
    fr: Household  # Nord, French, 2 members, owing
    en: Household  # Nord, English, owing
    paid: Household  # Nord, paid for 2027
    opted_out: Household  # Nord, reminders stopped (D18)
    no_phone: Household  # Nord, owing, no phone
    other_section: Household  # Sud: not targeted


def build(db: Session, repeat_every_days: int | None = None) -> World:
    mutual = make_mutual(db)
    mutual.timezone = "Africa/Nairobi"
    nord, sud = Section(mutual=mutual, name="Nord"), Section(mutual=mutual, name="Sud")
    db.add_all([nord, sud])
    db.flush()

    def household(phone: str | None, section: Section, members: int = 1) -> Household:
        made = make_household(db, mutual, members=members, phone=phone)
        made.section_id = section.id
        return made

    fr = household("+254700000001", nord, members=2)
    en = household("+254700000002", nord)
    en.language = "en"
    paid = household("+254700000003", nord)
    opted_out = household("+254700000004", nord)
    opted_out.reminders_enabled = False
    no_phone = household(None, nord)
    other = household("+254700000006", sud)
    product = mutual.products[0]
    row = period_row(db, product, Period(FOR_PERIOD, dt.date(2027, 12, 31)))
    for ben in paid.beneficiaries:
        db.add(
            Allocation(
                mutual_id=mutual.id,
                household_id=paid.id,
                beneficiary_id=ben.id,
                period_id=row.id,
                kind="contribution",
                member_amount=6000,
                allocated_on=dt.date(2026, 10, 20),
                ledger_key=f"alloc:{ben.id}",
            )
        )
    campaign = Campaign(
        mutual=mutual,
        product=product,
        code="C2027",
        name="Campagne 2027",
        opens_on=OPENS,
        closes_on=dt.date(2027, 1, 31),
        for_period=FOR_PERIOD,
        sections=["Nord"],
    )
    campaign.reminders.append(
        ReminderRule(
            anchor="opens",
            offset_days=0,
            repeat_every_days=repeat_every_days,
            template="campaign_opening",
        )
    )
    campaign.reminders.append(
        ReminderRule(anchor="closes", offset_days=-7, template="campaign_closing")
    )
    db.add(campaign)
    db.flush()
    return World(mutual, campaign, fr, en, paid, opted_out, no_phone, other)


def add_campaign(
    db: Session,
    world: World,
    code: str,
    rules: list[tuple[str, int, str]],
    sections: list[str] | None = None,
    opens_on: dt.date = OPENS,
) -> Campaign:
    """Another campaign of the world's mutual and product for 2027: rules as (anchor,
    offset_days, template); every section unless `sections`."""
    campaign = Campaign(
        mutual=world.mutual,
        product=world.mutual.products[0],
        code=code,
        name=f"Campagne {code}",
        opens_on=opens_on,
        closes_on=dt.date(2027, 1, 31),
        for_period=FOR_PERIOD,
        sections=sections or [],
    )
    for anchor, offset, template in rules:
        campaign.reminders.append(
            ReminderRule(anchor=anchor, offset_days=offset, template=template)
        )
    db.add(campaign)
    db.flush()
    return campaign
