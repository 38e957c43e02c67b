"""Per-household coverage snapshots (issue 19): a coverage screen reads one row, whatever the
household's history.

A snapshot is the household's book (book.load_book) with its old paid periods folded into
D9's runs (book.Fold): the last `KEEP` period starts stay as they are, everything before is
kept as the runs `eligibility.spells` made of it. Folding on from there gives the same
spells, so the same D6-D13 answers, for any day from the cutoff's period on.

It is maintained, not trusted: every flush that adds or changes an allocation, a reversal, a
ledger entry, a register event, a membership spell or a household marks that household
(`track`), and before the commit its snapshot is rebuilt from the full book, its household
row locked first so that two writers rebuild one after the other (the second sees the
first's rows). `read_book` reads the full book instead whenever the snapshot cannot answer
exactly: none yet, a household changed in this transaction, a day before the cutoff, a grace
period changed since, or a fully subsidised household whose automatic periods (D3) start in
the folded past."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import bindparam, event, select, update
from sqlalchemy.orm import Session, SessionTransaction

from gateway.models import (
    Allocation,
    AllocationReversal,
    CoverageSnapshot,
    Household,
    HouseholdEvent,
    LedgerEntry,
    MembershipSpell,
)
from gateway.models.base import utcnow
from gateway.services import ledger
from gateway.services.coverage.book import (
    BENEFICIARIES,
    Fold,
    HouseholdBook,
    PaidPeriod,
    Suspension,
    load_book,
)
from gateway.services.coverage.eligibility import fold_runs
from gateway.services.coverage.periods import Period, period_holding
from gateway.services.coverage.products import product_config
from gateway.services.coverage.shares import shares_for

VERSION = 1
KEEP = 24  # period starts kept as they are; earlier ones are folded (two years of months)
TOUCHED = "coverage_snapshot_touched"
_DIRECT = (Allocation, AllocationReversal, HouseholdEvent, MembershipSpell)
_TRACKED = (*_DIRECT, Household, LedgerEntry)


# --- reading ------------------------------------------------------------------------------

_SNAPSHOT = select(CoverageSnapshot.data).where(  # built once: every coverage hop reads it
    CoverageSnapshot.household_id == bindparam("household_id")
)


def read_book(session: Session, household: Household, on: dt.date) -> HouseholdBook:
    """The household's book for the screens of day `on`: from its snapshot when that answers
    exactly (see the module's docstring), else the full book."""
    if session.new or session.deleted or session.dirty:
        session.flush()
    if household.id in _touched_ids(session):
        return load_book(session, household)
    data = session.scalar(_SNAPSHOT, {"household_id": household.id})
    book = from_snapshot(session, household, on, data) if data is not None else None
    return book if book is not None else load_book(session, household)


def from_snapshot(
    session: Session, household: Household, on: dt.date, data: str
) -> HouseholdBook | None:
    found: dict[str, Any] = json.loads(data)
    product = product_config(session, household.product_id)
    if found.get("v") != VERSION or found["grace"] != product.grace_days:
        return None
    cutoff = _day(found["cutoff"])
    shares = shares_for(product, household.category)
    if cutoff is not None and (
        shares.fully_subsidised or period_holding(product, on).start < cutoff
    ):
        return None
    beneficiaries = list(session.scalars(BENEFICIARIES, {"household_id": household.id}))
    book = HouseholdBook(household, product, shares, beneficiaries, cutoff=cutoff)
    book.registration_paid = found["registration_paid"]
    book.credit = found["credit"]
    for key, rows in found["paid"].items():
        book.paid[int(key)] = {p.period.start: p for p in map(_paid, rows)}
    for key, fold in found["folded"].items():
        runs = tuple((_paid(a), _paid(b)) for a, b in fold["closed"])
        still = fold["open"]
        book.folded[int(key)] = Fold(runs, (_paid(still[0]), _paid(still[1])) if still else None)
    for key, rows in found["earlier"].items():
        book.earlier[int(key)] = [Period(_date(a), _date(b)) for a, b in rows]
    for key, rows in found["suspensions"].items():
        book.suspensions[int(key)] = [Suspension(_date(a), _day(b), c) for a, b, c in rows]
    return book


# --- building -----------------------------------------------------------------------------


def snapshot_data(book: HouseholdBook) -> dict[str, Any]:
    """The snapshot of a full book: JSON, dates as ISO strings."""
    starts = sorted({start for periods in book.paid.values() for start in periods})
    cutoff = starts[-KEEP] if len(starts) > KEEP else None
    grace = book.product.grace_days
    paid: dict[str, list[list[str]]] = {}
    folded: dict[str, dict[str, Any]] = {}
    for beneficiary_id, periods in book.paid.items():
        ordered = sorted(periods.values())
        old = [p for p in ordered if cutoff is not None and p.period.start < cutoff]
        paid[str(beneficiary_id)] = [_row(p) for p in ordered[len(old) :]]
        if old:
            runs = fold_runs(old, grace, Fold())
            folded[str(beneficiary_id)] = {
                "closed": [[_row(a), _row(b)] for a, b in runs.closed],
                "open": [_row(runs.open[0]), _row(runs.open[1])] if runs.open else None,
            }
    return {
        "v": VERSION,
        "grace": grace,
        "cutoff": _iso(cutoff),
        "registration_paid": book.registration_paid,
        "credit": book.credit,
        "paid": paid,
        "folded": folded,
        "earlier": {
            str(k): [[_iso(p.start), _iso(p.end)] for p in v] for k, v in book.earlier.items()
        },
        "suspensions": {
            str(k): [[_iso(s.start), _iso(s.lifted), s.reason] for s in v]
            for k, v in book.suspensions.items()
        },
    }


def rebuild(session: Session, household_ids: set[int]) -> None:
    """Rebuild these households' snapshots from their full books, rows locked in id order."""
    if not household_ids:
        return
    ids = sorted(household_ids)
    households = session.scalars(
        select(Household).where(Household.id.in_(ids)).order_by(Household.id).with_for_update()
    ).all()
    for household in households:
        text = json.dumps(snapshot_data(load_book(session, household)), separators=(",", ":"))
        _upsert(session, household.id, text)


def rebuild_all(session: Session, mutual_id: int | None = None, batch: int = 100) -> int:
    """Build every household's snapshot (after the migration, or an import); the count."""
    query = select(Household.id).order_by(Household.id)
    if mutual_id is not None:
        query = query.where(Household.mutual_id == mutual_id)
    ids = list(session.scalars(query))
    for i in range(0, len(ids), batch):
        rebuild(session, set(ids[i : i + batch]))
        session.flush()
    return len(ids)


def _upsert(session: Session, household_id: int, text: str) -> None:
    now = utcnow()
    changed = session.execute(
        update(CoverageSnapshot)
        .where(CoverageSnapshot.household_id == household_id)
        .values(data=text, built_at=now)
        .execution_options(synchronize_session=False)
    )
    if not changed.rowcount:  # type: ignore[attr-defined]
        session.add(CoverageSnapshot(household_id=household_id, data=text, built_at=now))
        session.flush()


# --- tracking -----------------------------------------------------------------------------


def track(session: Session, objects: list[object]) -> None:
    """Note the rows of a flush that change a household's snapshot (session event)."""
    found: list[object] = session.info.setdefault(TOUCHED, [])
    for obj in objects:
        if isinstance(obj, _TRACKED):
            found.append(obj)


def pending_rebuild(session: Session) -> None:
    """Before a commit: rebuild the snapshots of the households this transaction changed
    (at the outer commit only: a savepoint's release is not the end of the work). Called
    earlier too (refresh_snapshots): a read that follows, such as a payment receipt's
    standing, then reads the fresh row instead of loading the full book a second time, and
    the commit has nothing left to rebuild (issue 19)."""
    if not session.info.get(TOUCHED) or session.in_nested_transaction():
        return
    session.flush()  # the last changes are tracked too
    ids = _touched_ids(session)
    session.info.pop(TOUCHED, None)
    rebuild(session, ids)
    session.info.pop(TOUCHED, None)  # the snapshots' own flush touched nothing to track


def forget(session: Session, transaction: SessionTransaction) -> None:
    """At the end of the outer transaction (committed, or rolled back): nothing left to
    rebuild. A savepoint's end is not: its changes belong to the transaction around it."""
    if transaction.parent is None:
        session.info.pop(TOUCHED, None)


def _on_flush(session: Session, _context: object, _instances: object) -> None:
    track(session, [*session.new, *session.dirty, *session.deleted])


# Every session of every process (web, worker, commands, tests): a snapshot that missed a
# change would tell a member a wrong cover.
event.listen(Session, "before_flush", _on_flush)
event.listen(Session, "before_commit", pending_rebuild)
event.listen(Session, "after_transaction_end", forget)


def _touched_ids(session: Session) -> set[int]:
    ids: set[int] = set()
    for obj in session.info.get(TOUCHED, ()):
        if isinstance(obj, Household):
            ids.add(obj.id)
        elif isinstance(obj, _DIRECT):
            ids.add(obj.household_id)
        elif isinstance(obj, LedgerEntry):
            name = obj.account.name if obj.account is not None else None
            found = ledger.accounts.household_id(name) if name else None
            if found is not None:
                ids.add(found)
    return ids


# --- (de)serialising ----------------------------------------------------------------------


def _row(paid: PaidPeriod) -> list[str]:
    return [
        paid.period.start.isoformat(),
        paid.period.end.isoformat(),
        paid.allocated_on.isoformat(),
    ]


def _paid(row: list[str]) -> PaidPeriod:
    return PaidPeriod(Period(_date(row[0]), _date(row[1])), _date(row[2]))


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _day(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None
