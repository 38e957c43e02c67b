"""Lists for the people in the field (issue 17): the defaulters of a section (village) with
the amount offered (D6b) and the phone, for collectors and awareness committees; and the
beneficiaries covered in a period in a section (a facility's catchment), printed for health
centres without network (D11, D13: name, number, sex, year of birth, covered from / until;
nothing about payments)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.lib.phones import mask_msisdn
from gateway.models import Agent, Beneficiary, Household, HouseholdPhone, Mutual, Section
from gateway.services.coverage import (
    Headline,
    HouseholdBook,
    beneficiary_spells,
    load_book,
    next_period,
    period_holding,
    period_label,
    standing_of,
)
from gateway.services.reports.csvfiles import csv_text
from gateway.services.reports.errors import ReportError
from gateway.services.reports.spans import Span

OWING = (Headline.NOT_PAID, Headline.GRACE)
DEFAULTERS_HEADER = (
    "section",
    "household",
    "head",
    "phone",
    "status",
    "unpaid",
    "amount_offered",
    "for_period",
)
COVERED_HEADER = (
    "section",
    "household",
    "beneficiary",
    "name",
    "sex",
    "birth_year",
    "covered_from",
    "covered_until",
)


@dataclass(frozen=True)
class Defaulter:
    section: str
    household: str
    head: str
    phone: str  # E.164, "" when none
    status: str  # the D12 headline
    unpaid: int  # active beneficiaries not paid
    amount_offered: int  # D6b
    for_period: str  # the period the amount buys


@dataclass(frozen=True)
class CoveredRow:
    section: str
    household: str
    beneficiary: str
    name: str
    sex: str
    birth_year: int | None
    covered_from: dt.date
    covered_until: dt.date


def section_named(session: Session, mutual: Mutual, name: str) -> Section:
    found = session.scalars(
        select(Section).where(Section.mutual_id == mutual.id, Section.name == name)
    ).one_or_none()
    if found is None:
        raise ReportError(f"unknown section {name!r} in mutual {mutual.code}")
    return found


def facility_catchment(session: Session, mutual: Mutual, msisdn: str) -> Section:
    """A facility's catchment: the section of its facility agent (D19: an agent belongs to one
    section), which is what its staff check beneficiaries of."""
    agent = session.scalars(
        select(Agent).where(Agent.mutual_id == mutual.id, Agent.msisdn == msisdn)
    ).one_or_none()
    if agent is None or agent.role != "facility":
        raise ReportError(f"no facility agent with phone {mask_msisdn(msisdn)} in {mutual.code}")
    if agent.section_id is None:
        raise ReportError(f"facility agent {agent.name!r} has no section: give --section")
    return session.get_one(Section, agent.section_id)


def _households(
    session: Session, mutual: Mutual, section: Section | None
) -> Iterator[tuple[Household, str]]:
    query = (
        select(Household, Section.name)
        .outerjoin(Section, Section.id == Household.section_id)
        .where(Household.mutual_id == mutual.id)
    )
    if section is not None:
        query = query.where(Household.section_id == section.id)
    for household, name in session.execute(query.order_by(Section.name, Household.number)):
        yield household, name or ""


def defaulters(
    session: Session,
    mutual: Mutual,
    *,
    on: dt.date,
    section: Section | None = None,
    span: Span | None = None,
) -> list[Defaulter]:
    """Households owing on `on` (NOT_PAID or GRACE with an amount offered); with `span`, the
    households with an active beneficiary unpaid for a period starting in it (a campaign's
    period), the amount offered (D6b) being the one of the later of `on` and the span's first
    day: what the collector will ask for that period. Fully subsidised households (D3) owe
    nothing: the funder's periods are allocated automatically."""
    rows = []
    asked_on = on if span is None else max(on, span.first)
    for household, section_name in _households(session, mutual, section):
        book = load_book(session, household)
        if book.shares.fully_subsidised:
            continue
        now = standing_of(session, household, asked_on, book)
        if span is None:
            unpaid = _unpaid_now(book, on)
            owing = now.headline in OWING and now.offer.amount > 0
        else:
            unpaid = _unpaid_in(book, span, on)
            owing = unpaid > 0
        if not owing:
            continue
        offered = now.offer
        rows.append(
            Defaulter(
                section=section_name,
                household=household.number,
                head=_head(book),
                phone=_phone(session, household),
                status=str(now.headline),
                unpaid=unpaid,
                amount_offered=offered.amount,
                for_period=period_label(offered.period) if offered.period else "",
            )
        )
    return rows


def _unpaid_now(book: HouseholdBook, on: dt.date) -> int:
    current = period_holding(book.product, on)
    return sum(
        1
        for b in book.active(on)
        if book.suspended_on(b, on) is None and not book.is_paid(b, current)
    )


def _unpaid_in(book: HouseholdBook, span: Span, on: dt.date) -> int:
    """Active beneficiaries not paid for some period of the product starting in the span."""
    unpaid = set()
    period = period_holding(book.product, span.first)
    if period.start < span.first:
        period = next_period(book.product, period)
    while period.start <= span.last:
        day = min(max(on, period.start), period.end)
        for b in book.active(day):
            owes = book.suspended_on(b, day) is None and book.owes_for(b, period)
            if owes and not book.is_paid(b, period):
                unpaid.add(b.id)
        period = next_period(book.product, period)
    return len(unpaid)


def _head(book: HouseholdBook) -> str:
    heads = [b for b in book.beneficiaries if b.relation == "head"]
    return (heads or book.beneficiaries)[0].full_name if book.beneficiaries else ""


def _phone(session: Session, household: Household) -> str:
    query = (
        select(HouseholdPhone.msisdn)
        .where(HouseholdPhone.household_id == household.id)
        .order_by(HouseholdPhone.is_primary.desc(), HouseholdPhone.id)
        .limit(1)
    )
    return session.scalars(query).first() or ""


def defaulters_csv(rows: list[Defaulter], *, masked: bool) -> str:
    """Full phones for those who may see them (managers, the CLI), masked otherwise (D27)."""
    return csv_text(
        DEFAULTERS_HEADER,
        (
            (
                r.section,
                r.household,
                r.head,
                mask_msisdn(r.phone) if masked and r.phone else r.phone,
                r.status,
                r.unpaid,
                r.amount_offered,
                r.for_period,
            )
            for r in rows
        ),
    )


def covered(
    session: Session, mutual: Mutual, *, span: Span, section: Section | None = None
) -> list[CoveredRow]:
    """Beneficiaries covered (D11: COVERED or GRACE) on at least one day of the span, with
    the days their cover runs from and to, as a facility checks them (D13)."""
    rows = []
    for household, section_name in _households(session, mutual, section):
        book = load_book(session, household)
        grace = dt.timedelta(days=book.product.grace_days)
        for b in book.beneficiaries:
            if book.suspended_on(b, span.first) is not None:
                continue
            for spell in reversed(beneficiary_spells(book, b, span.last)):
                start, until = spell.covered_from, spell.end + grace
                if b.status in ("removed", "deceased") and b.left_on is not None:
                    until = min(until, b.left_on)
                if start <= span.last and until >= span.first and start <= until:
                    rows.append(_covered_row(section_name, household, b, start, until))
                    break
    return rows


def _covered_row(
    section: str, household: Household, b: Beneficiary, start: dt.date, until: dt.date
) -> CoveredRow:
    return CoveredRow(
        section=section,
        household=household.number,
        beneficiary=b.number,
        name=b.full_name,
        sex=b.sex,
        birth_year=b.birth_date.year if b.birth_date else None,
        covered_from=start,
        covered_until=until,
    )


def covered_csv(rows: list[CoveredRow]) -> str:
    return csv_text(
        COVERED_HEADER,
        (
            (
                r.section,
                r.household,
                r.beneficiary,
                r.name,
                r.sex,
                r.birth_year,
                r.covered_from,
                r.covered_until,
            )
            for r in rows
        ),
    )
