"""What a member is told (D6b, D11, D12): the household's standing and the amount offered.

Every surface a member reads (the USSD coverage and pay screens, SOLDE, the receipts, the
reminders, the collector's screen) takes its words from one `Standing`, so they cannot
disagree with each other or with `gateway eligibility`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from gateway.models import Campaign, Household, Section
from gateway.services.coverage import snapshot
from gateway.services.coverage.book import HouseholdBook
from gateway.services.coverage.dues import amount_due, registration_due, renewal_amount
from gateway.services.coverage.eligibility import HouseholdStatus, Status, household_status
from gateway.services.coverage.periods import Period, next_period, period_holding


class Headline(StrEnum):
    """D12 in one word, keeping "paid" and "covered" apart."""

    COVERED = "COVERED"  # every active beneficiary covered: covered until `until`
    GRACE = "GRACE"  # covered only thanks to grace, until `until`: renew now
    WAITING = "WAITING"  # paid, covered from `from_` (waiting, or a future period bought)
    NOT_PAID = "NOT_PAID"  # someone is not paid: the amount offered buys their cover
    INACTIVE = "INACTIVE"  # nobody to cover (all removed or suspended)


class OfferKind(StrEnum):
    DUE = "due"  # D6: the amount due
    RENEWAL = "renewal"  # D6b: the next period, a renewal being due
    NONE = "none"  # nothing due (an advance is still possible)


@dataclass(frozen=True)
class Offer:
    """D6b: what the member is asked to pay now, and the period that money buys."""

    kind: OfferKind
    amount: int
    period: Period | None = None
    registration: bool = False  # the registration fee is part of the amount


@dataclass(frozen=True)
class Standing:
    headline: Headline
    until: dt.date | None  # COVERED, GRACE: the last covered day
    from_: dt.date | None  # WAITING: the day cover starts
    offer: Offer
    status: HouseholdStatus
    credit: int = 0  # D7: money held towards the next shares


NO_OFFER = Offer(OfferKind.NONE, 0)


def offer(
    book: HouseholdBook,
    on: dt.date,
    *,
    campaign_open: bool,
    in_grace: bool,
    due: int | None = None,
    renewal: int | None = None,
) -> Offer:
    """D6b: the amount due when above zero; else the renewal when the household is paid for
    the current period but not the next and a renewal is due (a campaign for the next period
    open, GRACE, or the current period ending within `renewal_notice_days`). `due` and
    `renewal` are D6's amounts when the caller has them already."""
    due = amount_due(book, on) if due is None else due
    if due > 0:
        return Offer(OfferKind.DUE, due, _due_period(book, on), registration_due(book) > 0)
    current = period_holding(book.product, on)
    following = next_period(book.product, current)
    renewal = renewal_amount(book, on) if renewal is None else renewal
    if renewal <= 0 or not book.household_paid_for(current):
        return NO_OFFER
    notice = (current.end - on).days < book.product.renewal_notice_days
    if campaign_open or in_grace or notice:
        return Offer(OfferKind.RENEWAL, renewal, following)
    return NO_OFFER


def _due_period(book: HouseholdBook, on: dt.date) -> Period | None:
    """The earliest open period of the beneficiaries the amount due pays for (D5, D7)."""
    current = period_holding(book.product, on)
    periods = [
        book.open_period(b, on)
        for b in book.active(on)
        if not book.is_paid(b, current) and not book.is_paid(b, book.open_period(b, on))
    ]
    return min(periods, default=None)


def standing(book: HouseholdBook, on: dt.date, *, campaign_open: bool = False) -> Standing:
    """D11/D12 for the household's active, non-suspended beneficiaries, and D6b's offer."""
    summary = household_status(book, on)
    active_ids = {b.id for b in book.active(on)}
    members = [
        m
        for b, m in zip(book.beneficiaries, summary.members, strict=True)
        if b.id in active_ids and m.status not in (Status.SUSPENDED, Status.REMOVED)
    ]
    states = {m.status for m in members}
    in_grace = Status.GRACE in states
    offered = offer(
        book,
        on,
        campaign_open=campaign_open,
        in_grace=in_grace,
        due=summary.amount_due,
        renewal=summary.renewal_amount,
    )
    untils = [m.until for m in members if m.until is not None]
    froms = [m.from_ for m in members if m.status == Status.WAITING and m.from_ is not None]
    credit = book.credit
    if not members:
        return Standing(Headline.INACTIVE, None, None, offered, summary, credit)
    if Status.NOT_COVERED in states:
        since = max(froms, default=None)
        return Standing(Headline.NOT_PAID, None, since, offered, summary, credit)
    if froms:
        return Standing(Headline.WAITING, None, max(froms), offered, summary, credit)
    headline = Headline.GRACE if in_grace else Headline.COVERED
    return Standing(headline, min(untils), None, offered, summary, credit)


# Built once: a coverage screen asks it on every hop (issue 19).
_OPEN_CAMPAIGNS = select(Campaign.sections).where(
    Campaign.mutual_id == bindparam("mutual_id"),
    Campaign.product_id == bindparam("product_id"),
    Campaign.for_period == bindparam("period"),
    Campaign.opens_on <= bindparam("on"),
    Campaign.closes_on >= bindparam("on"),
)


def campaign_open_for(session: Session, household: Household, period: Period, on: dt.date) -> bool:
    """D14: a campaign for `period` open on `on` for the household's product and section."""
    params = {
        "mutual_id": household.mutual_id,
        "product_id": household.product_id,
        "period": period.start,
        "on": on,
    }
    campaigns = list(session.scalars(_OPEN_CAMPAIGNS, params))
    if not campaigns:
        return False
    section = session.get(Section, household.section_id) if household.section_id else None
    return any(not names or (section and section.name in names) for names in campaigns)


def standing_of(
    session: Session, household: Household, on: dt.date, book: HouseholdBook | None = None
) -> Standing:
    """The household's standing on `on` (its mutual's local date), from its book (loaded
    here unless the caller has it), a campaign for the next period deciding a renewal."""
    book = book or snapshot.read_book(session, household, on)
    following = next_period(book.product, period_holding(book.product, on))
    return standing(book, on, campaign_open=campaign_open_for(session, household, following, on))
