"""Campaign progress per day (D22, D14): households targeted (on the campaign's product, in
its sections, active on its opening day), reminded, paid and the amount collected each day of
the campaign. Stored under the periods holding the opening day, keys `CODE` and `CODE:DAY`."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from gateway.models import Beneficiary, Campaign, Household, Payment, ReminderOccurrence, Section
from gateway.services.indicators.figures import Figures
from gateway.services.indicators.flows import Labels

GONE = ("removed", "deceased")


def campaign_figures(session: Session, ids: Sequence[int], labels: Labels, out: Figures) -> None:
    found = list(
        session.scalars(
            select(Campaign).where(
                Campaign.mutual_id.in_(ids),
                Campaign.opens_on.between(labels.first, labels.last),
            )
        )
    )
    campaigns = {
        c.id: (c, labels.of(c.opens_on.year, c.opens_on.month), set(c.sections or ()))
        for c in found
    }
    campaigns = {k: v for k, v in campaigns.items() if v[1]}
    if not campaigns:
        return
    chosen = list(campaigns)
    section = func.coalesce(Section.name, "")
    targeted = (
        select(Campaign.id, section, func.count(func.distinct(Household.id)))
        .join(
            Household,
            and_(
                Household.mutual_id == Campaign.mutual_id,
                Household.product_id == Campaign.product_id,
            ),
        )
        .join(Beneficiary, Beneficiary.household_id == Household.id)
        .outerjoin(Section, Section.id == Household.section_id)
        .where(
            Campaign.id.in_(chosen),
            Beneficiary.enrolled_on <= Campaign.opens_on,
            or_(Beneficiary.status.not_in(GONE), Beneficiary.left_on >= Campaign.opens_on),
        )
        .group_by(Campaign.id, section)
    )
    for campaign_id, name, n in session.execute(targeted):
        campaign, where, sections = campaigns[campaign_id]
        if not sections or name in sections:
            for label in where:
                out.count(campaign.mutual_id, None, label, "CAMP_TARGET", n, key=campaign.code)
    reminded = (
        select(
            ReminderOccurrence.campaign_id,
            ReminderOccurrence.sent_on,
            func.count(func.distinct(ReminderOccurrence.household_id)),
        )
        .where(
            ReminderOccurrence.campaign_id.in_(chosen),
            ReminderOccurrence.status == "sent",
            ReminderOccurrence.sent_on.is_not(None),
        )
        .group_by(ReminderOccurrence.campaign_id, ReminderOccurrence.sent_on)
    )
    for campaign_id, day, n in session.execute(reminded):
        campaign, where, _ = campaigns[campaign_id]
        for label in where:
            key = f"{campaign.code}:{day}"
            out.count(campaign.mutual_id, None, label, "CAMP_REMINDED", n, key=key)
    paid = (
        select(
            Campaign.id,
            Payment.paid_on,
            section,
            func.count(func.distinct(Payment.household_id)),
            func.sum(Payment.amount),
        )
        .join(
            Payment,
            and_(
                Payment.mutual_id == Campaign.mutual_id,
                Payment.paid_on.between(Campaign.opens_on, Campaign.closes_on),
            ),
        )
        .join(
            Household,
            and_(Household.id == Payment.household_id, Household.product_id == Campaign.product_id),
        )
        .outerjoin(Section, Section.id == Household.section_id)
        .where(Campaign.id.in_(chosen))
        .group_by(Campaign.id, Payment.paid_on, section)
    )
    for campaign_id, day, name, n, amount in session.execute(paid):
        campaign, where, sections = campaigns[campaign_id]
        if sections and name not in sections:
            continue
        key = f"{campaign.code}:{day.isoformat()}"
        for label in where:
            out.count(campaign.mutual_id, None, label, "CAMP_PAID", n, key=key)
            out.count(campaign.mutual_id, None, label, "CAMP_AMOUNT", amount, key=key)
