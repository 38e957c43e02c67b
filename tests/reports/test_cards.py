"""Member cards (issue 17, acceptance 3): the PDF opens, renders to PNG (pypdfium2) and holds
one card per active beneficiary of the section (text read back with pypdf), a household's
sheet starting a new page."""

from __future__ import annotations

import io
from pathlib import Path

import pypdfium2
from pypdf import PdfReader
from sqlalchemy.orm import Session

from gateway.services import reports
from tests.support.reports import TODAY, build


def _texts(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def test_a_section_s_cards_render_one_per_beneficiary(db: Session, tmp_path: Path) -> None:
    s = build(db)
    nord = reports.section_named(db, s.mutual, "Nord")
    sheets = reports.section_sheets(db, s.mutual, nord, TODAY)
    pdf = reports.cards_pdf(sheets, "fr")
    pages = _texts(pdf)
    assert len(pages) == 3  # a sheet per household: 1001, 1002, 1003
    text = "\n".join(pages)
    numbers = ["100101", "100102", "100201", "100301", "100302", "100303"]
    for number in numbers:
        assert text.count(f"N° membre: {number}") == 1
    assert text.count("N° membre:") == len(numbers)
    assert "Valide: 11/03/2026 - 31/12/2026" in pages[0]
    assert "Non à jour" in pages[2]
    assert "Mutuelle MUT" in text and "Garantie de base" in text
    document = pypdfium2.PdfDocument(pdf)
    image = document[0].render(scale=1).to_pil()
    image.save(tmp_path / "cards.png")
    assert image.size[0] > 500 and (tmp_path / "cards.png").stat().st_size > 1000
    assert len(image.getcolors(2**24) or []) > 1  # something is drawn
    document.close()


def test_a_household_sheet_in_english_and_an_empty_pdf(db: Session) -> None:
    s = build(db)
    pdf = reports.cards_pdf([reports.household_cards(db, s.households["1001"], TODAY)], "en")
    text = "\n".join(_texts(pdf))
    assert text.count("Member no.:") == 2 and "Household: 1001" in text
    assert "no card" in "\n".join(_texts(reports.cards_pdf([], "en"))).lower()
