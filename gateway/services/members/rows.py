"""One members file row at a time (interfaces.md, Files: Members): each cell checked against
the mutual (sections, products, languages, country), every problem of the row reported."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from gateway.lib.csv_rows import Cells, Problems, RowCheck, choice, parse_date, required, text
from gateway.lib.phones import InvalidPhone, digits_of, normalize_msisdn
from gateway.models import Mutual, Product
from gateway.models.beneficiary import RELATIONSHIPS

HOME_COLUMNS = ("category", "section", "language", "product")  # read from the head's row
CACHED = 10_000  # distinct dates and phones remembered (issue 15: memory bounded at any size)


@dataclass(slots=True)
class MemberRow:
    line: int
    household: str
    number: str
    ben: dict[str, Any]
    phones: list[str]
    home: dict[str, Any]  # household-level values, filled on the head's row
    raw_home: tuple[str, ...]


class MutualContext:
    """What rows are checked against: the mutual's sections, products, languages, country and
    today (None: no check of future dates); dates and phones are parsed once per distinct text
    (the last `CACHED` of each remembered)."""

    def __init__(self, session: Session, mutual: Mutual, today: dt.date | None = None) -> None:
        self.mutual = mutual
        self.today = today
        self.sections = {s.name: s.id for s in mutual.sections}
        query = select(Product).where(Product.mutual_id == mutual.id).order_by(Product.id)
        products = list(session.scalars(query.options(selectinload(Product.subsidies))))
        self.products = {p.code: p for p in products}
        self.default_product = products[0] if products else None
        self.dates: dict[str, dt.date] = {}
        self._phones: dict[str, str | InvalidPhone] = {}

    def phones(self, raw: str) -> list[str]:
        return [self._phone(part) for part in raw.split(";") if part.strip()]

    def _phone(self, raw: str) -> str:
        found = self._phones.get(raw)
        if found is None:
            if len(self._phones) >= CACHED:
                self._phones.clear()
            try:
                found = normalize_msisdn(raw, self.mutual.country)
            except InvalidPhone as exc:
                found = exc
            self._phones[raw] = found
        if isinstance(found, InvalidPhone):
            raise found
        return found

    def date(self, raw: str) -> dt.date | None:
        if len(self.dates) >= CACHED:
            self.dates.clear()
        return parse_date(raw, self.dates) if raw else None

    def past(self, raw: str) -> dt.date | None:
        """A date that has already come: a birth or an enrolment is not after today."""
        day = self.date(raw)
        if day is not None and self.today is not None and day > self.today:
            raise ValueError(f"{day.isoformat()} is in the future (today is {self.today})")
        return day


def parse_member(
    line: int, cells: Cells, ctx: MutualContext, problems: Problems
) -> MemberRow | None:
    """The row's values, or None when it has a problem (each one added to `problems`)."""
    row = RowCheck(line, cells, problems)
    household, number = row.take("household_number", _card), row.take("member_number", _card)
    ben = {
        "full_name": row.take("full_name", _name),
        "sex": row.take("sex", _sex),
        "birth_date": row.take("birth_date", ctx.past),
        "relation": row.take("relationship", _relation),
        "status": row.take("status", _status),
        "enrolled_on": row.take("enrolled_on", lambda v: ctx.past(required(v))),
        "left_on": row.take("left_on", ctx.date),
    }
    phones = row.take("phone", ctx.phones)
    is_head = ben["relation"] == "head"
    if is_head and phones == []:
        row.add("phone", "required for the head of the household")
    _check_leaving(row, ben)
    home = _home(row, ctx) if is_head else {}
    if not row.ok:
        return None
    return MemberRow(
        line, household, number, ben, phones, home, tuple(cells[c] for c in HOME_COLUMNS)
    )


def _home(row: RowCheck, ctx: MutualContext) -> dict[str, Any]:
    """The household's category, section, language and product, from its head's row."""
    cells = row.cells
    code, section, language = cells["product"], cells["section"], cells["language"] or None
    product = ctx.products.get(code) if code else ctx.default_product
    if product is None:
        row.add("product", f"unknown product {code!r}" if code else "no product")
    category = cells["category"] or "standard"
    known = {"standard", *(s.category for s in product.subsidies)} if product else {category}
    if category not in known:
        row.add("category", f"must be one of {', '.join(sorted(known))}, got {category!r}")
    if section and section not in ctx.sections:
        row.add("section", f"unknown section {section!r}")
    if language and language not in ctx.mutual.languages:
        row.add("language", f"must be one of {', '.join(ctx.mutual.languages)}")
    return {
        "category": category,
        "language": language,
        "section_id": ctx.sections.get(section),
        "product_id": product.id if product else None,
    }


def _check_leaving(row: RowCheck, ben: dict[str, Any]) -> None:
    """`left_on` is required for removed/deceased members and refused for active ones."""
    status, left_on, enrolled_on = ben["status"], ben["left_on"], ben["enrolled_on"]
    given = bool(row.cells["left_on"])
    if status in ("removed", "deceased") and not given:
        row.add("left_on", f"required when status is {status}")
    elif status in ("active", "suspended") and given:
        row.add("left_on", "only for removed or deceased members")
    elif left_on and enrolled_on and left_on < enrolled_on:
        row.add("left_on", "before enrolled_on")


def _card(value: str) -> str:
    required(value)
    if len(value) > 32:
        raise ValueError("longer than 32 characters")
    if not digits_of(value):
        raise ValueError(f"{value!r} has no digit: members type numbers on keypads")
    return value


_name = text(200)
_sex = choice(("M", "F"))
_relation = choice(RELATIONSHIPS)
_status = choice(("active", "removed", "deceased", "suspended"), "active")
