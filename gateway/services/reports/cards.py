"""Member cards as a PDF (issue 17): one card per active beneficiary (D13: what a facility
checks: name, number, household, year of birth, product, validity), a sheet per household;
a section's cards at once are its households' sheets one after another.

Cards are credit-card sized (85 x 54 mm), ten to an A4 page, to be cut and laminated. The
labels are in the mutual's language (the catalogs' `[console]` table)."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping
from dataclasses import dataclass

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.lib.catalogs import console_texts
from gateway.lib.formatting import day
from gateway.models import Beneficiary, Household, Mutual, Section
from gateway.services.coverage import HouseholdBook, beneficiary_spells, load_book, next_period
from gateway.services.coverage import period_holding as holding

CARD_W, CARD_H = 85 * mm, 54 * mm
COLUMNS, ROWS = 2, 5
MARGIN_X, MARGIN_Y = 15 * mm, 13 * mm
GAP = 5 * mm


@dataclass(frozen=True)
class Card:
    mutual: str
    name: str
    number: str
    household: str
    birth_year: int | None
    product: str
    valid_from: dt.date | None
    valid_until: dt.date | None


def household_cards(session: Session, household: Household, on: dt.date) -> list[Card]:
    """A card per beneficiary active on `on`, valid over the spell covering `on` or the next
    one paid (D9, D11); no dates when nothing is paid."""
    book = load_book(session, household)
    horizon = next_period(book.product, holding(book.product, on)).end
    return [_card(book, b, on, horizon) for b in book.active(on)]


def _card(book: HouseholdBook, b: Beneficiary, on: dt.date, horizon: dt.date) -> Card:
    spell = next((s for s in beneficiary_spells(book, b, horizon) if s.end >= on), None)
    return Card(
        mutual=book.household.mutual.name,
        name=b.full_name,
        number=b.number,
        household=book.household.number,
        birth_year=b.birth_date.year if b.birth_date else None,
        product=book.product.name,
        valid_from=spell.covered_from if spell else None,
        valid_until=spell.end if spell else None,
    )


def section_sheets(
    session: Session, mutual: Mutual, section: Section, on: dt.date
) -> list[list[Card]]:
    query = (
        select(Household)
        .where(Household.mutual_id == mutual.id, Household.section_id == section.id)
        .order_by(Household.number)
    )
    sheets = [household_cards(session, h, on) for h in session.scalars(query)]
    return [sheet for sheet in sheets if sheet]


def cards_pdf(sheets: list[list[Card]], lang: str) -> bytes:
    """Each household's cards start on a new page, ten to a page."""
    texts = console_texts(lang)
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4, invariant=True)
    canvas.setTitle(texts["cards_title"])
    per_page = COLUMNS * ROWS
    started = False
    for sheet in sheets:
        for index, card in enumerate(sheet):
            if (started and index == 0) or (index and index % per_page == 0):
                canvas.showPage()
            started = True
            slot = index % per_page
            _draw(canvas, card, texts, slot % COLUMNS, slot // COLUMNS)
    if not started:
        canvas.drawString(MARGIN_X, A4[1] - MARGIN_Y - 10 * mm, texts["cards_none"])
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def _draw(canvas: Canvas, card: Card, words: Mapping[str, str], col: int, row: int) -> None:
    x = MARGIN_X + col * (CARD_W + GAP)
    y = A4[1] - MARGIN_Y - (row + 1) * CARD_H - row * GAP
    canvas.roundRect(x, y, CARD_W, CARD_H, 3 * mm)
    canvas.setFont("Helvetica-Bold", 9)
    canvas.drawString(x + 4 * mm, y + CARD_H - 7 * mm, card.mutual[:48])
    canvas.setFont("Helvetica-Bold", 11)
    canvas.drawString(x + 4 * mm, y + CARD_H - 15 * mm, card.name[:40])
    canvas.setFont("Helvetica", 8.5)
    valid = (
        f"{day(card.valid_from)} - {day(card.valid_until)}"
        if card.valid_from and card.valid_until
        else words["cards_not_valid"]
    )
    lines = [
        f"{words['cards_number']}: {card.number}",
        f"{words['cards_household']}: {card.household}",
        f"{words['cards_born']}: {card.birth_year or '-'}",
        f"{words['cards_product']}: {card.product[:40]}",
        f"{words['cards_valid']}: {valid}",
    ]
    for i, line in enumerate(lines):
        canvas.drawString(x + 4 * mm, y + CARD_H - (22 + 6 * i) * mm, line)
