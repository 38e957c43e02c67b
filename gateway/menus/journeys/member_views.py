"""The member's coverage (D12) and payments screens: a few queries each (the household's book,
the last payments, the credit), no query per beneficiary."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import bindparam, select

from gateway.menus.engine.catalog import Translator
from gateway.menus.engine.screens import Ctx, Item, StaleSession, View
from gateway.menus.journeys import samples
from gateway.menus.journeys.memory import MemberMemory
from gateway.menus.journeys.status import MemberLine, coverage_view
from gateway.models import Household, Payment
from gateway.services import ledger
from gateway.services.coverage import (
    Status,
    headline_text,
    offer_text,
    read_book,
    sample_standings,
    standing_of,
)

LAST_PAYMENTS = 5
CHANNELS = ("cash", "mobile", "bank", "legacy")
_LAST_PAYMENTS = (  # built once, not per hop (issue 19)
    select(Payment.paid_on, Payment.amount, Payment.channel)
    .where(Payment.household_id == bindparam("household_id"))
    .order_by(Payment.paid_on.desc(), Payment.id.desc())
    .limit(LAST_PAYMENTS)
)


def household_of(ctx: Ctx[MemberMemory]) -> Household:
    """The session's household; gone since the session started means start again."""
    household = ctx.db.get(Household, int(ctx.data["household_id"]))
    if household is None:
        raise StaleSession(f"household {ctx.data['household_id']} is gone")
    return household


def coverage(ctx: Ctx[MemberMemory]) -> View:
    """D12 for today, from the same book and rules as `gateway eligibility`, with the amount
    offered (D6b) and the period it buys."""
    household = household_of(ctx)
    book = read_book(ctx.db, household, ctx.today)
    found = standing_of(ctx.db, household, ctx.today, book)
    members = [
        MemberLine(b.full_name, m.status, m.until, m.from_)
        for b, m in zip(book.beneficiaries, found.status.members, strict=True)
    ]
    lang = ctx.t.lang
    return coverage_view(ctx.t, headline_text(found, lang), offer_text(found.offer, lang), members)


def coverage_samples(t: Translator) -> list[View]:
    """A 7-member household: every status, the longest names, the largest amounts."""
    statuses = [
        MemberLine(samples.LONG_NAME, Status.GRACE, until=samples.LONG_DATE),
        MemberLine(samples.LONG_NAME, Status.WAITING, since=samples.LONG_DATE),
        MemberLine(samples.LONG_NAME, Status.NOT_COVERED),
        MemberLine(samples.LONG_NAME, Status.COVERED, until=samples.LONG_DATE),
        MemberLine(samples.LONG_NAME, Status.SUSPENDED),
        MemberLine(samples.LONG_NAME, Status.REMOVED),
        MemberLine(samples.LONG_NAME, Status.GRACE, until=samples.LONG_DATE),
    ]
    views = [
        coverage_view(t, headline_text(found, t.lang), offer_text(found.offer, t.lang), statuses)
        for found in sample_standings()
    ]
    return [
        *views,
        coverage_view(t, headline_text(sample_standings()[0], t.lang), "", statuses[3:4]),
    ]


def payments(ctx: Ctx[MemberMemory]) -> View:
    """The last payments (date, amount, channel) and the household's credit (D7)."""
    household = household_of(ctx)
    rows = ctx.db.execute(_LAST_PAYMENTS, {"household_id": household.id}).all()
    credit = ledger.household_credit(ctx.db, household.mutual_id, household.id)
    return payments_view(ctx.t, [(r.paid_on, r.amount, r.channel) for r in rows], credit)


def payments_view(t: Translator, rows: list[tuple[dt.date, int, str]], credit: int) -> View:
    items = tuple(
        Item(t("payment_line", date=t.date(day), amount=t.amount(amount), channel=_channel(t, ch)))
        for day, amount, ch in rows
    )
    return View({"credit": t.amount(credit)}, items or (Item(t("payments_none")),))


def _channel(t: Translator, channel: str) -> str:
    return t(f"channel_{channel}") if channel in CHANNELS else channel


def payments_samples(t: Translator) -> list[View]:
    longest = max(CHANNELS, key=lambda c: len(t(f"channel_{c}")))
    rows = [(samples.LONG_DATE, samples.BIG_AMOUNT, longest)] * LAST_PAYMENTS
    return [payments_view(t, rows, samples.BIG_AMOUNT), payments_view(t, [], 0)]
