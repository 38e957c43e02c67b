"""Who a campaign's reminders go to, and with what amount (D6, D15, D18), for a whole mutual
in a few queries: every household's contribution book (gateway.services.coverage.book) is built
in bulk so that the amount in a reminder is exactly the D6 amount due that `gateway eligibility`
shows, and the coverage end of `coverage_end` rules comes from the same paid periods."""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar, cast

from sqlalchemy import Executable, Select, String, case, func, literal, or_, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session, selectinload

from gateway.lib.catalogs import DEFAULT_LANGUAGE, LANGUAGES
from gateway.models import (
    Account,
    Allocation,
    Beneficiary,
    Campaign,
    CoveragePeriod,
    Household,
    HouseholdPhone,
    LedgerEntry,
    Mutual,
    Product,
    Section,
    Subsidy,
)
from gateway.models.beneficiary import active_on_sql
from gateway.services import ledger
from gateway.services.coverage import (
    HouseholdBook,
    PaidPeriod,
    Period,
    Shares,
    amount_due,
    live_allocation,
    renewal_amount,
    shares_for,
    unpaid_due,
)

CHUNK = 500
BATCH = 20000  # households judged at a time (iter_selections): about 20 MB of one batch
# (bench_reminders --due-only: peak 129 MB at 1 000 000 households, 110 MB with 5 000)
T = TypeVar("T")


class Target(NamedTuple):
    """One reminder's household (a tuple: a million of them are built in a run, and a frozen
    dataclass's constructor cost five times a tuple's)."""

    household_id: int
    number: str
    language: str
    phone: str | None
    due: int  # D6 amount due today (the renewal amount when nothing is due for today's period)
    coverage_end: dt.date | None = None  # last day of the latest paid period, if any


@dataclass
class Selection:
    """The targets and why the other households of the campaign were left out."""

    targets: list[Target] = field(default_factory=list)
    skipped_paid: int = 0
    skipped_consent: int = 0

    @classmethod
    def merged(cls, parts: Iterable[Selection]) -> Selection:
        whole = cls()
        for part in parts:
            whole.targets.extend(part.targets)
            whole.skipped_paid += part.skipped_paid
            whole.skipped_consent += part.skipped_consent
        return whole


@contextmanager
def gc_paused() -> Iterator[None]:
    """A run builds a few hundred thousand small objects that all live until it ends; the
    cyclic collector rescanning them at every full pass cost a third of a 100 000-household
    run. Reference counting still frees everything; the collector resumes afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _rows(session: Session, query: Executable) -> Sequence[Any]:
    """A plain-column query run as Core on the session's connection: tuples, without the ORM's
    per-row loading (a third of a streamed due list's time went there). Pending changes are
    flushed first, as the session's own execute would."""
    if session.autoflush:
        session.flush()
    return session.connection().execute(query).all()  # fetchall: not a call per row


class _Household:
    """The household columns a book and a target need, without ORM instances (100 000
    households load several times faster as rows). `active`: how many of its beneficiaries
    are active on the day judged, None when its book is needed (some live allocation, or a
    dated register: gateway.services.coverage.book)."""

    __slots__ = (
        "active",
        "category",
        "id",
        "language",
        "number",
        "product_id",
        "reminders_enabled",
    )

    def __init__(self, row: Any) -> None:
        (self.id, self.number, self.language, self.reminders_enabled, self.product_id,
         self.category, self.active) = row[:7]  # fmt: skip


class _Beneficiary:
    """What D6 reads of a beneficiary; `active_on` is the model's own method, not a copy."""

    __slots__ = ("enrolled_on", "household_id", "id", "left_on", "status")
    active_on = Beneficiary.active_on

    def __init__(self, row: Any) -> None:
        self.id, self.household_id, self.enrolled_on, self.status, self.left_on = row


class _Product:
    """A product's period settings as plain attributes: D6 reads them once per beneficiary."""

    __slots__ = ("coverage_start", "id", "join_window_days", "period")

    def __init__(self, product: Product) -> None:
        self.id, self.period = product.id, product.period
        self.coverage_start = product.coverage_start
        self.join_window_days = product.join_window_days


def select_targets(
    session: Session, mutual: Mutual, campaign: Campaign, today: dt.date
) -> Selection:
    """D15/D18: the campaign's households (on its product, in its sections or all) with an
    active beneficiary not paid for the campaign's period and a D6 amount still due, reminders
    enabled. A household on another product owes another product's period: never targeted.
    The whole list at once (commands, tests); a run streams iter_selections instead."""
    with gc_paused():
        return Selection.merged(iter_selections(session, mutual, campaign, today))


def iter_selections(
    session: Session,
    mutual: Mutual,
    campaign: Campaign,
    today: dt.date,
    batch: int = BATCH,
    after: int = 0,
    until: int | None = None,
) -> Iterator[Selection]:
    """select_targets in batches of at most `batch` households, in household id order
    (keyset pages): each batch's books are loaded, judged and let go before the next, so a
    million-household mutual takes the memory of one batch (issue 19), and the targets are
    those select_targets gives, in the same order. `after` < household id <= `until` (None:
    no upper bound) restricts it to a range of ids."""
    products = load_products(session, mutual.id)
    shares: dict[tuple[int, str], Shares] = {}
    while True:
        rows = _households(session, mutual, campaign, (after, until), batch, today)
        if not rows:
            return
        after = rows[-1][0]
        credits = credits_between(session, mutual.id, rows[0][0], after)
        booked = [_Household(row) for row in rows if row[6] is None]
        books = load_books(session, mutual.id, booked, products, shares, credits)
        for key in {(row[4], row[5]) for row in rows} - shares.keys():
            shares[key] = shares_for(products[key[0]], key[1])
        yield _select(mutual, campaign, today, rows, books, (shares, credits))
        if len(rows) < batch:
            return


def _households(
    session: Session,
    mutual: Mutual,
    campaign: Campaign,
    bounds: tuple[int, int | None],
    batch: int,
    today: dt.date,
) -> Sequence[Any]:
    """The batch's households in id order, each with its count of beneficiaries active
    today when nothing else of its book matters: no live allocation (so no paid period and
    no registration paid) and no dated register. Such a household's D6 amount is its
    members' shares, the registration share and its credit (dues.unpaid_due), judged
    without reading its members row by row."""
    after, until = bounds

    def campaign_households(query: Select[Any]) -> Select[Any]:
        query = query.where(
            Household.mutual_id == mutual.id,
            Household.product_id == campaign.product_id,
            Household.id > after,
        )
        if until is not None:
            query = query.where(Household.id <= until)
        if campaign.sections:
            query = query.join(Section, Section.id == Household.section_id).where(
                Section.name.in_(campaign.sections)
            )
        return query

    ids = campaign_households(select(Household.id)).order_by(Household.id).limit(batch).cte()
    last = select(func.max(ids.c.id)).scalar_subquery()
    # The page's members active today and its live allocations, each read by the page's id
    # range (one index range scan each), not household by household.
    active = (
        select(Beneficiary.household_id, func.count().label("n"))
        .where(
            Beneficiary.household_id > after,
            Beneficiary.household_id <= last,
            active_on_sql(today),
        )
        .group_by(Beneficiary.household_id)
        .subquery()
    )
    paid = (
        select(Allocation.household_id)
        .where(Allocation.household_id > after, Allocation.household_id <= last)
        .where(live_allocation())
        .distinct()
        .subquery()
    )
    # D18's phone: the primary one, else the first; one per household, by the page's ids
    ranked = func.row_number().over(
        partition_by=HouseholdPhone.household_id,
        order_by=(HouseholdPhone.is_primary.desc(), HouseholdPhone.id),
    )
    phones = (
        select(HouseholdPhone.household_id, HouseholdPhone.msisdn, ranked.label("rank"))
        .where(HouseholdPhone.household_id > after, HouseholdPhone.household_id <= last)
        .subquery()
    )
    booked = or_(Household.dated_register, paid.c.household_id.is_not(None))
    query = (
        campaign_households(
            select(
                Household.id,
                Household.number,
                Household.language,
                Household.reminders_enabled,
                Household.product_id,
                Household.category,
                case((booked, None), else_=func.coalesce(active.c.n, 0)),
                phones.c.msisdn,
            )
        )
        .where(Household.id <= last)
        .outerjoin(phones, (phones.c.household_id == Household.id) & (phones.c.rank == 1))
        .outerjoin(active, active.c.household_id == Household.id)
        .outerjoin(paid, paid.c.household_id == Household.id)
        .order_by(Household.id)
    )
    return _rows(session, query)


def _select(
    mutual: Mutual,
    campaign: Campaign,
    today: dt.date,
    rows: Sequence[Any],
    books: dict[int, HouseholdBook],
    counted: tuple[dict[tuple[int, str], Shares], dict[int, int]],
) -> Selection:
    """Each household (a row of _households) judged by its book (owes_period, owed_amount),
    or from its counts when it has no book to read: the same judgement, as
    dues.unpaid_book_due says."""
    shares, credits = counted
    chosen = Selection()
    targets = chosen.targets
    for hid, number, language, enabled, product_id, category, active, phone in rows:
        if active is None:
            book = books[hid]
            if not owes_period(book, campaign.for_period, today):
                due = 0
            else:
                due = owed_amount(book, today)
            end = coverage_end(book) if due else None
        else:
            share = shares[(product_id, category)]
            if share.fully_subsidised or not active:
                due = 0
            else:
                due = unpaid_due(share, active, credits.get(hid, 0))
            end = None
        if due == 0:
            chosen.skipped_paid += 1
        elif not enabled:
            chosen.skipped_consent += 1
        else:
            targets.append(Target(hid, number, language_of(mutual, language), phone, due, end))
    return chosen


def owes_period(book: HouseholdBook, period_start: dt.date, today: dt.date) -> bool:
    """D15: some beneficiary active today is not paid for the period starting then."""
    if book.shares.fully_subsidised:
        return False
    return any(period_start not in book.paid.get(b.id, {}) for b in book.active(today))


def owed_amount(book: HouseholdBook, today: dt.date) -> int:
    """D6: the amount due today; when today's period is settled, the renewal amount."""
    return amount_due(book, today) or renewal_amount(book, today)


def coverage_end(book: HouseholdBook) -> dt.date | None:
    """The last day of the latest period any beneficiary is paid for (anchor coverage_end)."""
    ends = [paid.period.end for periods in book.paid.values() for paid in periods.values()]
    return max(ends, default=None)


def load_products(session: Session, mutual_id: int) -> dict[int, Product]:
    """The mutual's products with what shares_for reads (subsidies, funders, levies)."""
    return {
        p.id: p
        for p in session.scalars(
            select(Product)
            .where(Product.mutual_id == mutual_id)
            .options(selectinload(Product.subsidies).selectinload(Subsidy.funder))
            .options(selectinload(Product.levies))
        )
    }


def load_books(
    session: Session,
    mutual_id: int,
    households: Sequence[_Household],
    products: dict[int, Product] | None = None,
    shares: dict[tuple[int, str], Shares] | None = None,
    credits: dict[int, int] | None = None,
) -> dict[int, HouseholdBook]:
    """HouseholdBook (as gateway.services.coverage.book.load_book) of many households at once:
    those given, in id order (a batch of iter_selections); rows are read by household id
    range, so a batch reads its own households' rows only."""
    if not households:
        return {}
    products = products if products is not None else load_products(session, mutual_id)
    shares = shares if shares is not None else {}
    plain = {pid: cast(Product, _Product(p)) for pid, p in products.items()}
    books: dict[int, HouseholdBook] = {}
    for h in households:
        key = (h.product_id, h.category)
        if key not in shares:
            shares[key] = shares_for(products[h.product_id], h.category)
        book = HouseholdBook(cast(Household, h), plain[h.product_id], shares[key], [])
        books[h.id] = book
    low, high = households[0].id, households[-1].id
    rows = _rows(
        session,
        select(
            Beneficiary.id,
            Beneficiary.household_id,
            Beneficiary.enrolled_on,
            Beneficiary.status,
            Beneficiary.left_on,
        )
        .where(Beneficiary.mutual_id == mutual_id, Beneficiary.household_id.between(low, high))
        .order_by(Beneficiary.id),
    )
    for row in rows:
        if (found := books.get(row[1])) is not None:
            found.beneficiaries.append(cast(Beneficiary, _Beneficiary(row)))
    _load_allocations(session, mutual_id, books, low, high)
    if credits is None:
        credits = credits_between(session, mutual_id, low, high)
    for household_id, credit in credits.items():
        if (found := books.get(household_id)) is not None:
            found.credit = credit
    return books


def _load_allocations(
    session: Session, mutual_id: int, books: dict[int, HouseholdBook], low: int, high: int
) -> None:
    rows = _rows(
        session,
        select(
            Allocation.household_id,
            Allocation.kind,
            Allocation.beneficiary_id,
            Allocation.allocated_on,
            CoveragePeriod.starts_on,
            CoveragePeriod.ends_on,
        )
        .outerjoin(CoveragePeriod, CoveragePeriod.id == Allocation.period_id)
        .where(Allocation.mutual_id == mutual_id, live_allocation())
        .where(Allocation.household_id.between(low, high)),
    )
    for household_id, kind, beneficiary_id, allocated_on, starts_on, ends_on in rows:
        book = books.get(household_id)
        if book is None:
            continue
        if kind == "registration":
            book.registration_paid = True
        elif beneficiary_id is not None:
            paid = PaidPeriod(Period(starts_on, ends_on), allocated_on)
            book.paid.setdefault(beneficiary_id, {})[starts_on] = paid


def credits_between(session: Session, mutual_id: int, low: int, high: int) -> dict[int, int]:
    """Household id -> credit (as ledger.household_credit) of the mutual's households with ids
    from `low` to `high` that hold an account: one statement joining each household to its
    account by name (`liab:household:<id>`), so a batch sends two ids, not 5 000 names."""
    account = literal(ledger.accounts.HOUSEHOLD_PREFIX, String) + sql_cast(Household.id, String)
    rows = _rows(
        session,
        select(Household.id, func.sum(LedgerEntry.amount))
        .join(Account, (Account.mutual_id == mutual_id) & (Account.name == account))
        .join(LedgerEntry, LedgerEntry.account_id == Account.id)
        .where(Household.mutual_id == mutual_id, Household.id.between(low, high))
        .group_by(Household.id),
    )
    return {household_id: -int(total or 0) for household_id, total in rows}


def language_of(mutual: Mutual, language: str | None) -> str:
    """The household's language if known, else the mutual's default if known, else ours
    (the household's own looked at first: the mutual's default is a property)."""
    if language in LANGUAGES:
        return language
    default = mutual.default_language
    return default if default in LANGUAGES else DEFAULT_LANGUAGE
