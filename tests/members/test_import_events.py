"""The members import produces the register's dated events (D23, issue 18): each change a
file makes to a registered household is recorded as the event an operator would record, with
its money at once (D3-D7); a change the register refuses is a problem of its line and nothing
is imported. The ledger audit passes after each scenario (acceptance 5)."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import Beneficiary, Household, HouseholdEvent, Mutual, Product
from gateway.services.coverage import receive_payment
from gateway.services.members.importer import COLUMNS, ImportErrors, import_members
from tests.support.events import assert_ledger_clean, credit, live_shares, status_on
from tests.support.factories import make_mutual

D = dt.date
NOW = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC)


def row(home: str, number: str, relation: str = "child", **cells: str) -> str:
    values = {
        "household_number": home,
        "member_number": number,
        "full_name": f"Membre {number}",
        "sex": "F",
        "relationship": relation,
        "enrolled_on": "2025-12-01",
    }
    if relation == "head":
        values |= {"phone": "70 11 22 33", "language": "fr"}
    values.update(cells)
    return ",".join(values.get(c, "") for c in COLUMNS)


def csv(*rows: str) -> io.StringIO:
    return io.StringIO("\n".join([",".join(COLUMNS), *rows]) + "\n")


BASE = (row("H1", "H1-1", "head"), row("H1", "H1-2", "spouse"), row("H1", "H1-3"))


def loaded(db: Session, years: int = 2) -> tuple[Mutual, Household]:
    mutual = make_mutual(db, subsidies=[("indigent", 50, "MASSN")])
    import_members(db, mutual, csv(*BASE), now=NOW, today=D(2025, 12, 1))
    household = db.scalars(select(Household)).one()
    receive_payment(
        db,
        household=household,
        amount=18000 * years,
        paid_on=D(2026, 1, 10),
        channel="cash",
        reference="R1",
        now=dt.datetime(2026, 1, 10, 9, tzinfo=dt.UTC),
    )
    return mutual, household


def events(db: Session) -> list[tuple[str, str]]:
    rows = db.scalars(select(HouseholdEvent).order_by(HouseholdEvent.id))
    return [(e.type, e.reason) for e in rows]


def member(db: Session, number: str) -> Beneficiary:
    return db.scalars(select(Beneficiary).where(Beneficiary.number == number)).one()


def test_a_first_load_records_one_enrolment_per_household(db: Session) -> None:
    mutual = make_mutual(db)
    import_members(db, mutual, csv(*BASE, row("H2", "H2-1", "head")), now=NOW)
    kinds = db.execute(select(HouseholdEvent.type, HouseholdEvent.effective_on)).all()
    assert sorted(kinds) == [("enrol", D(2025, 12, 1))] * 2
    assert_ledger_clean(db)


def test_a_death_in_the_file_gives_the_later_shares_back(db: Session) -> None:
    """D7, D23: the same as `gateway members event H1-3 death`: 2027's share reversed."""
    mutual, household = loaded(db)
    dead = row("H1", "H1-3", status="deceased", left_on="2026-06-30")
    report = import_members(db, mutual, csv(*BASE[:2], dead), now=NOW)
    assert report.beneficiaries_updated == 1
    assert events(db)[-1] == ("death", "members import, line 4")
    assert credit(db, household) == 6000
    assert ("H1-3", 2027, D(2026, 1, 10)) not in live_shares(db, household)
    assert status_on(db, household, member(db, "H1-3"), D(2026, 7, 1)) == "REMOVED"
    assert_ledger_clean(db)


def test_a_new_member_of_a_registered_household_is_a_dependant_added(db: Session) -> None:
    mutual, household = loaded(db, years=1)
    baby = row("H1", "H1-4", birth_date="2026-11-02", enrolled_on="2026-11-02")
    report = import_members(db, mutual, csv(*BASE, baby), now=NOW)
    assert report.beneficiaries_created == 1
    assert events(db)[-1] == ("add-dependant", "members import, line 5")
    assert member(db, "H1-4").household_id == household.id
    assert_ledger_clean(db)


def test_a_category_and_a_head_change_from_the_file(db: Session) -> None:
    """D3: the category from the import's day, the difference given back (half share); D23:
    the dead head stays deceased, the spouse is head, the old head's relation as the file
    says."""
    mutual, household = loaded(db)
    rows = (
        row("H1", "H1-1", "spouse", status="deceased", left_on="2026-08-02"),
        row("H1", "H1-2", "head", category="indigent"),
        BASE[2],
    )
    import_members(db, mutual, csv(*rows), now=NOW, today=NOW.date())
    db.expire_all()
    kinds = [kind for kind, _ in events(db)]
    assert kinds[-3:] == ["death", "change-head", "category"]
    old, new = member(db, "H1-1"), member(db, "H1-2")
    assert (old.relation, old.status, new.relation) == ("spouse", "deceased", "head")
    assert (household.category, household.category_since) == ("indigent", NOW.date())
    assert_ledger_clean(db)


def test_a_product_change_mid_period_is_refused_on_its_line(db: Session) -> None:
    """D23: the import's day is not a period boundary: the line is refused, nothing written
    (not even the correction of another line recorded before it)."""
    mutual, household = loaded(db)
    db.add(
        Product(
            mutual_id=mutual.id,
            code="PLUS",
            name="Plus",
            period="year",
            contribution=9000,
            registration_fee=0,
            coverage_start="01-01",
        )
    )
    db.flush()
    moved = row("H1", "H1-1", "head", product="PLUS")
    renamed = row("H1", "H1-2", "spouse", full_name="Awa Renamed")
    with pytest.raises(ImportErrors) as refused:
        import_members(db, mutual, csv(moved, renamed, BASE[2]), now=NOW)
    assert member(db, "H1-2").full_name == "Membre H1-2"
    assert [kind for kind, _ in events(db)] == ["enrol"]
    assert refused.value.errors == [
        "line 2: product: a product change takes effect at a period boundary: the next is"
        " 2027-01-01 (not 2026-12-07)"
    ]
    boundary = dt.datetime(2027, 1, 1, 9, tzinfo=dt.UTC)
    import_members(db, mutual, csv(moved, *BASE[1:]), now=boundary, today=boundary.date())
    db.expire_all()
    assert household.product.code == "PLUS"
    assert events(db)[-1][0] == "product"
    assert_ledger_clean(db)


def test_refused_changes_list_their_lines_and_a_dry_run_records_nothing(db: Session) -> None:
    mutual, _household = loaded(db)
    gone = row("H1", "H1-3", status="removed", left_on="2026-03-31")
    import_members(db, mutual, csv(*BASE[:2], gone), now=NOW)
    back = row("H1", "H1-3", enrolled_on="2026-03-01")
    with pytest.raises(ImportErrors) as refused:
        import_members(db, mutual, csv(*BASE[:2], back), now=NOW)
    assert refused.value.errors == [
        "line 4: enrolled_on: H1-3 left on 2026-03-31: re-enrol after that day"
    ]
    assert member(db, "H1-3").status == "removed"  # nothing of the refused file was kept
    before = len(events(db))
    later = row("H1", "H1-3", enrolled_on="2026-09-01")
    report = import_members(db, mutual, csv(*BASE[:2], later), now=NOW, dry_run=True)
    assert report.beneficiaries_updated == 1 and len(events(db)) == before
    import_members(db, mutual, csv(*BASE[:2], later), now=NOW)
    assert events(db)[-1][0] == "reenrol"
    assert status_on(db, _household, member(db, "H1-3"), D(2026, 6, 1)) == "REMOVED"
    assert_ledger_clean(db)
