"""Property test (Hypothesis) of the coverage snapshots (issue 19): after any sequence of
payments (dated today or back, D7b re-allocating), departures, deaths, re-enrolments,
suspensions, lifts (D23), category changes (D3) and daily allocation runs, each committed, the
snapshot the commits maintained is the one built from the full book, and every answer read
from it (D6, D6b, D11, D12, per member and for the household) is the full computation's, on
every day the snapshot answers for. Few period starts are kept (`KEEP`), so that a monthly
history of a few years is folded."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gateway.models import CoverageSnapshot, Household
from gateway.services.coverage import (
    HouseholdBook,
    allocate_due,
    load_book,
    receive_payment,
    snapshot,
)
from gateway.services.coverage.eligibility import beneficiary_status
from gateway.services.coverage.standing import standing
from gateway.services.members import EventError
from tests.support.events import record
from tests.support.factories import make_household, make_mutual

FIRST = dt.date(2024, 1, 1)
NOW = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC)
DAYS = (NOW.date() - FIRST).days
_codes = itertools.count(1)
SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
KINDS = ["pay", "pay", "late", "depart", "death", "reenrol", "suspend", "lift", "category", "run"]
steps = st.lists(
    st.tuples(st.sampled_from(KINDS), st.integers(0, 2), st.integers(0, DAYS)),
    min_size=1,
    max_size=10,
)


@pytest.fixture(autouse=True)
def _few_kept(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(snapshot, "KEEP", 4)
    yield


def stored(db: Session, household: Household) -> dict[str, object] | None:
    text = db.scalar(
        select(CoverageSnapshot.data).where(CoverageSnapshot.household_id == household.id)
    )
    return json.loads(text) if text is not None else None


def answers(db: Session, household: Household, on: dt.date, book: object) -> object:
    assert isinstance(book, HouseholdBook)
    found = standing(book, on)
    members = [beneficiary_status(book, b, on) for b in book.beneficiaries]
    return found, members


def check(db: Session, household: Household) -> int:
    """The maintained snapshot is the fresh one; its answers are the full book's. Returns
    the days the snapshot itself answered (not a fall back to the full book)."""
    db.expire_all()
    full = load_book(db, household)
    assert stored(db, household) == snapshot.snapshot_data(full)
    used = 0
    for on in (FIRST, dt.date(2025, 6, 30), NOW.date(), dt.date(2027, 3, 1)):
        data = db.scalar(
            select(CoverageSnapshot.data).where(CoverageSnapshot.household_id == household.id)
        )
        assert data is not None
        fast = snapshot.from_snapshot(db, household, on, data)
        if fast is not None:
            used += 1
            assert answers(db, household, on, fast) == answers(db, household, on, full)
        read = snapshot.read_book(db, household, on)
        assert answers(db, household, on, read) == answers(db, household, on, full)
    return used


def step(db: Session, household: Household, n: int, kind: str, index: int, day: dt.date) -> None:
    if kind in ("pay", "late"):
        receive_payment(
            db,
            household=household,
            amount=500 * (1 + index) * len(household.beneficiaries),
            paid_on=NOW.date() if kind == "pay" else day,
            channel="cash",
            reference=f"{household.number}-R{n}",
            now=NOW,
        )
    elif kind == "run":
        allocate_due(db, on=day, mutual_id=household.mutual_id)
    else:
        member = household.beneficiaries[index]
        data = {"category": "indigent" if household.category == "standard" else "standard"}
        try:
            with db.begin_nested():
                if kind == "category":
                    record(db, household, kind, day, NOW, None, reason=f"step {n}", **data)
                else:
                    record(db, household, kind, day, NOW, member, reason=f"step {n}")
        except EventError:
            pass  # refused for the register as it is: nothing changed


@SETTINGS
@given(months=st.integers(0, 40), script=steps)
def test_the_snapshot_is_always_the_full_computation(
    db: Session, months: int, script: list[tuple[str, int, int]]
) -> None:
    """Issue 19: after every committed step, snapshot == full book, for each member and day."""
    mutual = make_mutual(
        db,
        code=f"S{next(_codes)}",
        period="month",
        contribution=500,
        waiting_days=30,
        grace_days=10,
        join_window_days=10,
        subsidies=[("indigent", 0, "ETAT")],
    )
    mutual.payment_hold_multiple = 0
    household = make_household(db, mutual, members=3, enrolled_on=FIRST)
    if months:  # a history paid in advance, dated back: many periods to fold
        receive_payment(
            db,
            household=household,
            amount=1500 * months,
            paid_on=FIRST,
            channel="cash",
            reference=f"{household.number}-R0",
            now=NOW,
        )
    db.commit()
    check(db, household)
    for n, (kind, index, offset) in enumerate(script, start=1):
        step(db, household, n, kind, index, FIRST + dt.timedelta(days=offset))
        db.commit()
        check(db, household)


def test_a_long_history_is_read_from_a_folded_snapshot(db: Session) -> None:
    """Forty paid months: the snapshot keeps the last four starts and folds the rest, and
    today's answers come from it (no fall back), equal to the full book's."""
    mutual = make_mutual(
        db, code="SLONG", period="month", contribution=500, waiting_days=30, grace_days=10
    )
    household = make_household(db, mutual, members=2, enrolled_on=FIRST)
    receive_payment(
        db,
        household=household,
        amount=1000 * 40,
        paid_on=FIRST,
        channel="cash",
        reference="LONG-1",
        now=NOW,
    )
    db.commit()
    data = stored(db, household)
    assert data is not None and data["cutoff"] is not None and data["folded"]
    assert check(db, household) >= 2  # today and later: from the snapshot


def test_a_household_without_snapshot_and_one_changed_now_read_the_full_book(
    db: Session,
) -> None:
    mutual = make_mutual(db, code="SNONE")
    household = make_household(db, mutual, members=1)
    db.commit()
    db.execute(delete(CoverageSnapshot))
    assert stored(db, household) is None
    book = snapshot.read_book(db, household, NOW.date())
    assert book.cutoff is None and not book.folded
    household.category = "standard2"  # tracked: this transaction reads the full book
    assert snapshot.read_book(db, household, NOW.date()).household is household
    db.rollback()
    assert snapshot.rebuild_all(db, mutual.id) == 1
    db.commit()
    assert stored(db, household) == snapshot.snapshot_data(load_book(db, household))
