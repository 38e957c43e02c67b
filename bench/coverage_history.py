"""The coverage table of the USSD benchmark (issue 19): what a coverage screen costs for a
household with 1 and with 50 years of monthly history, through the hop's path (the household's
snapshot: gateway.services.coverage.snapshot) and through the full book it replaced.

Two households of the demo mutual on a monthly product of their own, two beneficiaries each,
paid every month (one payment a year, dated back, allocated in date order as a real one is).
Each measure is one coverage screen's work in a fresh session: read the book, the standing
(D6-D12) with its campaign look-up; the rounds alternate the households and the paths, and the
table gives medians and 90th percentiles in milliseconds."""

from __future__ import annotations

import datetime as dt
import statistics
import time
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.clock import Clock
from gateway.db import make_engine, make_session_factory, session_scope
from gateway.models import Household, Mutual, Product
from gateway.services.coverage import load_book, read_book, receive_payment, standing_of
from tests.support.factories import add_beneficiary

TODAY = Clock().today()
MEMBERS = 2
CONTRIBUTION = 500


def _household(session: Session, mutual: Mutual, product: Product, years: int) -> int:
    number = f"HIST{years:02d}"
    start = dt.date(TODAY.year - years + 1, 1, 1)
    household = Household(
        mutual=mutual, number=number, digits=number, category="standard", product=product
    )
    session.add(household)
    session.flush()
    for i in range(MEMBERS):
        add_beneficiary(
            session, household, enrolled_on=start, relation="head" if i == 0 else "child"
        )
    for year in range(start.year, TODAY.year + 1):
        receive_payment(
            session,
            household=household,
            amount=12 * CONTRIBUTION * MEMBERS,
            paid_on=dt.date(year, 1, 5),
            channel="cash",
            reference=f"{number}-{year}",
            now=dt.datetime.combine(dt.date(year, 1, 5), dt.time(9), tzinfo=dt.UTC),
        )
    return household.id


def _prepare(factory: Callable[[], Session]) -> dict[int, int]:
    with session_scope(factory) as session:  # type: ignore[arg-type]
        mutual = session.scalars(select(Mutual).order_by(Mutual.id)).first()
        assert mutual is not None, "the demo mutual is loaded first"
        mutual.payment_hold_multiple = 0
        product = Product(
            mutual=mutual, code="MONTH", name="Mensuel", period="month",
            contribution=CONTRIBUTION, waiting_days=30, grace_days=10, join_window_days=10,
        )  # fmt: skip
        session.add(product)
        return {years: _household(session, mutual, product, years) for years in (1, 50)}


def _screen(factory: Callable[[], Session], household_id: int, snapshot: bool) -> float:
    started = time.perf_counter()
    with factory() as session:
        household = session.get(Household, household_id)
        assert household is not None
        book = read_book(session, household, TODAY) if snapshot else load_book(session, household)
        standing_of(session, household, TODAY, book)
        session.rollback()
    return (time.perf_counter() - started) * 1000


def coverage_table(url: str, reps: int) -> None:
    engine = make_engine(url)
    factory = make_session_factory(engine)
    households = _prepare(factory)
    cases = [(years, snap) for years in households for snap in (True, False)]
    times: dict[tuple[int, bool], list[float]] = {case: [] for case in cases}
    for _ in range(20):  # warm-up
        for years, snap in cases:
            _screen(factory, households[years], snap)
    for n in range(reps):
        for years, snap in cases[n % 4 :] + cases[: n % 4]:
            times[(years, snap)].append(_screen(factory, households[years], snap))
    engine.dispose()
    print(f"\ncoverage screen, {MEMBERS} beneficiaries, monthly history ({reps} interleaved reps):")
    print(f"  {'history':<9} {'path':<22} {'median ms':>9} {'p90 ms':>7}")
    for (years, snap), found in times.items():
        found.sort()
        path = "snapshot (the hop's)" if snap else "full book (before)"
        p90 = found[int(0.9 * (len(found) - 1))]
        print(f"  {years:>2} years  {path:<22} {statistics.median(found):>9.2f} {p90:>7.2f}")
    same = [statistics.median(times[(y, True)]) for y in households]
    print(f"  snapshot 50 y / 1 y: {same[1] / same[0]:.2f} (target: the same within noise)")
