"""Issue 17, acceptance 1 (D22, D27 unions): the fixed scenario of tests/support/indicators.py,
its indicators counted BY HAND below (each literal with its arithmetic), for a mutual, a
section and the union roll-up, then recomputed after a late payment changes a past period.

Register (active on a day: enrolled on or before it and not gone before it):
  MA/Nord: H1 2 ben (2024-12-01), H2 3 ben (2024-12-01, one removed 2025-06-30),
           H3 1 ben indigent (2025-03-10)
  MA/Sud:  H4 2 ben (2025-02-01), H5 1 ben (2024-06-01), H6 1 ben (2024-06-01, dead 2025-11-20)
  MB/Est:  H7 2 ben (2025-01-15), H8 1 ben (2026-02-01)
Allocations for 2025: H1 2, H2 3 (one of them the departed), H3 1 funder, H4 2, H6 1, H7 2;
for 2026: H1 2, H2 1, H3 1 funder, H7 1, H8 1. Contribution 6 000; indigent: member 0 %."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gateway.models import IndicatorDirty
from gateway.services.indicators import read_figures, recompute, recompute_dirty, set_target
from tests.support.indicators import TODAY, Scenario, allocate, build, pay

NOW = dt.datetime(2026, 3, 15, 12, tzinfo=dt.UTC)


def figures(
    db: Session, period: str, ids: list[int], section_id: int | None = None
) -> dict[str, tuple[int, int]]:
    return {
        (f"{f.code}[{f.key}]" if f.key else f.code): (f.numerator, f.denominator)
        for f in read_figures(db, period, ids, section_id)
    }


def scenario(db: Session) -> Scenario:
    s = build(db)
    set_target(db, s.a, "Nord", 2025, 50, NOW)
    recompute(db, [s.a.id, s.b.id], None, TODAY, NOW)
    return s


def test_section_nord_2025(db: Session) -> None:
    s = scenario(db)
    got = figures(db, "2025", [s.a.id], s.sections["Nord"].id)
    expected = {
        "HH_START": (2, 1),  # H1, H2 active on 2025-01-01
        "HH": (3, 1),  # H1, H2, H3 on 2025-12-31
        "HH_NEW": (1, 1),  # H3 = 3 - 2 + 0 departed
        "HH_LEFT": (0, 1),
        "BEN_START": (5, 1),  # H1 2 + H2 3
        "BEN": (5, 1),  # H1 2 + H2 2 (one left 06-30) + H3 1
        "BEN_NEW": (1, 1),  # 5 - 5 + 1 departed
        "BEN_LEFT": (1, 1),  # H2's departed
        "M.1": (1, 2),  # (3 - 2) / 2 (households on 2024-12-31: H1, H2)
        "M.1B": (0, 5),  # (5 - 5) / 5
        "PAID_UP": (3, 3),  # H1 2/2, H2 2/2 active ones, H3 1/1
        "M.6": (24000, 24000),  # H1 2x6000 + H2 2x6000 (the departed's share not due) + H3 0
        "M.6F": (6000, 6000),  # H3: 6000 owed by the funder, allocated
        "FUNDER_SHARE[ETATMA]": (6000, 6000),
        "M.5": (5, 50),  # 5 beneficiaries / target 50
        "AMOUNT[cash]": (12000, 1),  # H1 2025-01-20
        "AMOUNT[mobile:sandbox]": (18000, 1),  # H2 2025-02-05
        "PAYMENTS[cash]": (1, 1),
        "PAYMENTS[mobile:sandbox]": (1, 1),
    }
    assert got == expected


def test_mutual_ma_2025(db: Session) -> None:
    s = scenario(db)
    got = figures(db, "2025", [s.a.id])
    section = {k: v for k, v in got.items() if not k.startswith(("CAMP_", "LEVY", "FUNDER_O"))}
    assert section == {
        "HH_START": (4, 1),  # Nord 2 + Sud 2 (H5, H6)
        "HH": (5, 1),  # Nord 3 + Sud 2 (H4, H5)
        "HH_NEW": (2, 1),  # Nord 1 (H3) + Sud 1 (H4)
        "HH_LEFT": (1, 1),  # H6 (its only beneficiary died 2025-11-20)
        "BEN_START": (7, 1),  # Nord 5 + Sud 2
        "BEN": (8, 1),  # Nord 5 + Sud 3 (H4 2, H5 1)
        "BEN_NEW": (3, 1),  # Nord 1 + Sud 2 (H4's)
        "BEN_LEFT": (2, 1),  # Nord 1 + Sud 1 (H6)
        "M.1": (1, 4),  # Nord (3-2)/2 + Sud (2-2)/2 -> 1/4
        "M.1B": (1, 7),  # Nord 0/5 + Sud (3-2)/2 -> 1/7
        "PAID_UP": (4, 5),  # Nord 3/3 + Sud 1/2 (H4 paid, H5 not; H6 dead not counted)
        "M.6": (36000, 42000),  # Nord 24000/24000 + Sud 12000/(H4 12000 + H5 6000)
        "M.6F": (6000, 6000),  # H3 only
        "FUNDER_SHARE[ETATMA]": (6000, 6000),
        "M.5": (5, 50),  # only Nord has a target
        "AMOUNT[bank]": (12000, 1),  # H4 2025-03-01
        "AMOUNT[cash]": (12000, 1),
        "AMOUNT[legacy]": (6000, 1),  # H6 2025-01-10
        "AMOUNT[mobile:sandbox]": (18000, 1),
        "PAYMENTS[bank]": (1, 1),
        "PAYMENTS[cash]": (1, 1),
        "PAYMENTS[legacy]": (1, 1),
        "PAYMENTS[mobile:sandbox]": (1, 1),
    }
    # C2025 opens 2025-01-05: on the product then H1, H2, H5, H6 (H3, H4 enrolled later).
    assert got["CAMP_TARGET[C2025]"] == (4, 1)
    # Payments inside 2025-01-05..02-28, per day: H6 legacy, H1 cash, H2 mobile.
    assert got["CAMP_PAID[C2025:2025-01-10]"] == (1, 1)
    assert got["CAMP_AMOUNT[C2025:2025-01-10]"] == (6000, 1)
    assert got["CAMP_AMOUNT[C2025:2025-01-20]"] == (12000, 1)
    assert got["CAMP_AMOUNT[C2025:2025-02-05]"] == (18000, 1)


def test_union_2025_sums_its_mutuals_exactly(db: Session) -> None:
    s = scenario(db)
    union = figures(db, "2025", [s.a.id, s.b.id])
    mb = figures(db, "2025", [s.b.id])
    assert mb["HH"] == (1, 1) and mb["BEN"] == (2, 1)  # H7 (2 ben, enrolled 2025-01-15)
    assert mb["M.1"] == (1, 0)  # (1 - 0) / 0: no value
    assert union["HH_START"] == (4, 1)  # MA 4 + MB 0
    assert union["HH"] == (6, 1)  # MA 5 + MB 1
    assert union["HH_NEW"] == (3, 1)  # MA 2 + MB 1
    assert union["BEN"] == (10, 1)  # MA 8 + MB 2
    assert union["BEN_NEW"] == (5, 1)  # MA 3 + MB 2
    assert union["M.1"] == (2, 4)  # MA 1/4 + MB 1/0
    assert union["PAID_UP"] == (5, 6)  # MA 4/5 + MB 1/1
    assert union["M.6"] == (48000, 54000)  # MA 36000/42000 + MB 12000/12000
    assert union["M.6F"] == (6000, 6000)  # MB has no indigent household
    assert union["AMOUNT[mobile:cinetpay]"] == (12000, 1)  # H7 2025-01-20
    for code in ("HH", "BEN", "PAID_UP", "M.6", "M.1"):
        ma, mb_ = figures(db, "2025", [s.a.id])[code], mb[code]
        assert union[code][0] == ma[0] + mb_[0]


def test_retention_2026(db: Session) -> None:
    s = scenario(db)
    nord = figures(db, "2026", [s.a.id], s.sections["Nord"].id)
    # Paid for 2025: H1, H2, H3; for 2026 (to 2026-03-15): H1 2/2, H3 1/1 (H2 1/2 is not).
    assert nord["M.2"] == (2, 3)
    assert nord["PAID_UP"] == (2, 3)
    union = figures(db, "2026", [s.a.id, s.b.id])
    # MA: Nord 2/3 + Sud (H4 paid 2025, not 2026) 0/1; MB: H7 paid 2025, not 2026 (1/2): 0/1.
    assert union["M.2"] == (2, 5)
    # 2026: H1, H3 (MA), H8 (MB) paid up of H1..H5 + H7, H8 (7 households active).
    assert union["PAID_UP"] == (3, 7)
    month = figures(db, "2026-01", [s.a.id])
    assert month["M.2"] == (2, 5 - 1)  # a month of 2026 reads the 2026 coverage period
    assert month["SMS"] == (5, 1)  # 3 + 1 delivered + 1 sent (the failed one was not handed)
    assert month["SMS_FAILED"] == (1, 1)
    assert month["SMS_DLR"] == (4, 6)  # 4 delivered / 6 that went out or failed
    assert month["SMS_COST"] == (150, 1)  # (3x1 + 1x2 (200 chars) + 1x1) segments x 25 XOF
    assert month["CAMP_TARGET[C2026]"] == (5, 1)  # H1..H5 on 2026-01-05 (H6 dead)
    assert month["CAMP_REMINDED[C2026:2026-01-06]"] == (5, 1)
    assert month["CAMP_AMOUNT[C2026:2026-01-10]"] == (12000, 1)
    feb = figures(db, "2026-02", [s.a.id])
    assert feb["CHECKS[CSPS Nord]"] == (3, 1)
    assert feb["CHECKS_OK[CSPS Nord]"] == (2, 3)
    assert feb["CHECKS_OK[CSPS Sud]"] == (1, 1)


def test_a_late_payment_recomputes_the_past_period(db: Session) -> None:
    s = scenario(db)
    db.execute(delete(IndicatorDirty))
    # H5 pays 2025 on 2026-03-10 (cash): a payment of 2026-03 allocated to the 2025 period.
    pay(db, s, "H5", 6000, dt.date(2026, 3, 10), "cash")
    allocate(db, s, "H5", 2025, 1, dt.date(2026, 3, 10))
    marks = db.scalars(select(IndicatorDirty.since)).all()
    assert min(marks) == dt.date(2025, 1, 1)  # the allocation's coverage period start
    assert recompute_dirty(db, TODAY, NOW) == 1
    assert db.scalars(select(IndicatorDirty)).all() == []
    ma = figures(db, "2025", [s.a.id])
    assert ma["PAID_UP"] == (5, 5)  # was 4/5: H5 now paid
    assert ma["M.6"] == (42000, 42000)  # was 36000/42000: + 6000
    sud = figures(db, "2025", [s.a.id], s.sections["Sud"].id)
    assert sud["M.6"] == (18000, 18000)  # H4 12000 + H5 6000
    union = figures(db, "2025", [s.a.id, s.b.id])
    assert union["PAID_UP"] == (6, 6)
    assert union["M.6"] == (54000, 54000)
    # 2026: H5 joins the households paid for 2025 (Sud 0/2), and March's cash shows it.
    assert figures(db, "2026", [s.a.id, s.b.id])["M.2"] == (2, 6)
    assert figures(db, "2026-03", [s.a.id])["AMOUNT[cash]"] == (6000, 1)
    assert figures(db, "2025", [s.b.id])["M.6"] == (12000, 12000)  # MB untouched
