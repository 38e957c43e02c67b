"""`gateway members import` (interfaces.md, Files: Members; ussd.md, digits matching)."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gateway.cli import main
from gateway.lib.phones import InvalidPhone, digits_of, mask_msisdn, normalize_msisdn
from gateway.models import Beneficiary, Household, HouseholdEvent, HouseholdPhone, Mutual
from gateway.services.members import importer
from gateway.services.members.importer import COLUMNS, ImportErrors, import_members
from tests.support.paths import DATA

MEMBERS = DATA / "members.csv"
HEADER = ",".join(COLUMNS) + "\n"


def _household(db: Session, number: str) -> Household:
    return db.scalars(select(Household).where(Household.number == number)).one()


def _member(db: Session, number: str) -> Beneficiary:
    return db.scalars(select(Beneficiary).where(Beneficiary.number == number)).one()


def _phones(db: Session, number: str) -> list[tuple[str, bool]]:
    query = select(HouseholdPhone.msisdn, HouseholdPhone.is_primary).join(Household)
    rows = db.execute(query.where(Household.number == number).order_by(HouseholdPhone.id))
    return [(msisdn, primary) for msisdn, primary in rows]


def _snapshot(db: Session) -> list[Any]:
    tables = (Household, Beneficiary, HouseholdPhone)
    return [[tuple(r) for r in db.execute(select(t.__table__).order_by(t.id))] for t in tables]


def _row(household: str, member: str, relation: str = "child", **cells: str) -> str:
    values = {"household_number": household, "member_number": member, "full_name": "A B"}
    values |= {"sex": "F", "relationship": relation, "enrolled_on": "2025-01-01"}
    if relation == "head":
        values["phone"] = "70 12 34 56"
    values.update(cells)
    return ",".join(values.get(column, "") for column in COLUMNS) + "\n"


def test_happy_path(db: Session, toml_mutual: Mutual, monkeypatch: pytest.MonkeyPatch) -> None:
    """Counts, household values from the head's row, normalised phones (E.164), canonical
    spellings, leavers; chunks of 2 rows exercise the bulk writes' boundaries."""
    monkeypatch.setattr(importer, "CHUNK", 2)
    report = import_members(db, toml_mutual, MEMBERS)
    assert (report.households_created, report.beneficiaries_created) == (3, 7)
    assert report.warnings == []
    h1, h2, h3 = (_household(db, n) for n in ("H-001", "H-002", "H-003"))
    assert (h1.digits, h1.category, h1.language) == ("001", "standard", "en")
    assert (h2.category, h2.language, h2.product.code) == ("indigent", None, "STD")
    assert [h.section.name if h.section else None for h in (h1, h2, h3)] == ["Nord", "Sud", None]
    assert h3.product.code == "MOIS"
    head, child, boukary = (_member(db, n) for n in ("H-00101", "H-00202", "H-00301"))
    assert (head.digits, head.relation, head.birth_date) == ("00101", "head", dt.date(1980, 2, 3))
    assert (child.sex, child.status, child.left_on) == ("M", "deceased", dt.date(2025, 6, 1))
    assert (boukary.full_name, boukary.relation, boukary.birth_date) == (
        "Kaboré, Boukary",
        "head",
        None,
    )


def test_several_phones_and_a_shared_phone(db: Session, toml_mutual: Mutual) -> None:
    """Phones separated by `;`, the head's first one primary, dependants' phones added;
    one phone may serve two households (HouseholdPhone)."""
    import_members(db, toml_mutual, MEMBERS)
    assert _phones(db, "H-001") == [
        ("+22670112233", True),
        ("+22676000001", False),
        ("+22675111111", False),
    ]
    assert _phones(db, "H-002") == [("+22670123412", True)]
    assert _phones(db, "H-003") == [("+22670123412", True)]


def test_reimport_changes_nothing(db: Session, toml_mutual: Mutual) -> None:
    """Idempotent upsert by member and household number."""
    import_members(db, toml_mutual, MEMBERS)
    db.commit()
    before = _snapshot(db)
    report = import_members(db, toml_mutual, MEMBERS)
    assert (report.households_created, report.households_updated) == (0, 0)
    assert (report.beneficiaries_created, report.beneficiaries_updated) == (0, 0)
    assert (report.households_unchanged, report.beneficiaries_unchanged) == (3, 7)
    assert _snapshot(db) == before


def test_reimport_updates_and_replaces_phones(db: Session, toml_mutual: Mutual) -> None:
    import_members(db, toml_mutual, MEMBERS)
    household = _household(db, "H-001")  # loaded before: the import must refresh it
    assert len(household.phones) == 3
    text = MEMBERS.read_text(encoding="utf-8").replace("Awa Sawadogo", "Awa Ouedraogo")
    text = text.replace("70 11 22 33; +226 76 00 00 01", "76 00 00 01")
    text = text.replace("0022675111111", "")
    report = import_members(db, toml_mutual, text)
    assert (report.households_updated, report.beneficiaries_updated) == (1, 1)
    assert [p.msisdn for p in household.phones] == ["+22676000001"]
    assert household.beneficiaries[1].full_name == "Awa Ouedraogo"


def test_bad_file_lists_every_bad_line_and_imports_nothing(
    db: Session, toml_mutual: Mutual
) -> None:
    with pytest.raises(ImportErrors) as raised:
        import_members(db, toml_mutual, DATA / "members_bad.csv")
    assert raised.value.errors == [
        "line 2: sex: must be one of M, F, got 'X'",
        "line 3: full_name: required, at most 200 characters",
        "line 3: birth_date: not a calendar date: '1985-13-01'",
        "line 3: relationship: must be one of head, spouse, child, parent, other, got 'wife'",
        "line 4: birth_date: must be a date YYYY-MM-DD, got '03/01/1970'",
        "line 4: phone: required for the head of the household",
        "line 4: section: unknown section 'Est'",
        "line 4: language: must be one of fr, en",
        "line 5: member_number: 'B-201' already on line 4",
        "line 5: enrolled_on: required",
        "line 5: left_on: only for removed or deceased members",
        "line 6: relationship: household 'B-3' has no head",
        "line 7: status: must be one of active, removed, deceased, suspended, got 'retired'",
        "line 7: phone: not a valid phone number for BF: '12345'",
        "line 7: category: must be one of indigent, standard, subsidised, got 'vip'",
        "line 8: left_on: required when status is deceased",
        "line 9: member_number: required",
        "line 9: product: unknown product 'GOLD'",
        "line 11: relationship: second head (first on line 10)",
        "line 12: left_on: before enrolled_on",
    ]
    assert "line 12: left_on" in str(raised.value)
    assert db.scalar(select(func.count()).select_from(Beneficiary)) == 0


def test_header_problems(db: Session, toml_mutual: Mutual) -> None:
    with pytest.raises(ImportErrors) as raised:
        import_members(db, toml_mutual, "household_number,member_number,colour\n1,2,3\n")
    assert raised.value.errors[0].startswith("line 1: header: missing column(s) full_name, sex")
    assert raised.value.errors[1] == "line 1: header: unknown column(s) colour"
    with pytest.raises(ImportErrors) as raised:
        import_members(db, toml_mutual, HEADER + "1,2,3\n")
    assert raised.value.errors == ["line 2: row: 3 fields, the header has 14"]


def test_line_numbers_count_blank_lines_and_quoted_newlines(
    db: Session, toml_mutual: Mutual
) -> None:
    """Line numbers are the file's: a blank line and a quoted field over two lines count."""
    head = _row("1", "101", "head", full_name='"Awa\nTraoré"')
    text = HEADER + "\n" + head + _row("1", "102", sex="Q")
    with pytest.raises(ImportErrors) as raised:
        import_members(db, toml_mutual, text)
    assert raised.value.errors == ["line 5: sex: must be one of M, F, got 'Q'"]


def test_dry_run_counts_and_writes_nothing(db: Session, toml_mutual: Mutual) -> None:
    report = import_members(db, toml_mutual, MEMBERS, dry_run=True)
    assert (report.dry_run, report.households_created, report.beneficiaries_created) == (
        True,
        3,
        7,
    )
    assert db.scalar(select(func.count()).select_from(Household)) == 0


def test_same_digits_are_a_warning(db: Session, toml_mutual: Mutual) -> None:
    """ussd.md: numbers are typed as digits; `12-34` and `1234` cannot be told apart, so
    the import warns (and still imports), in the file and against the database."""
    import_members(db, toml_mutual, HEADER + _row("55-1", "55-101", "head"))
    text = HEADER + _row("12-34", "12-3401", "head") + _row("1234", "1234-01", "head")
    text += _row("551", "551-01", "head", phone="70 11 11 11")
    report = import_members(db, toml_mutual, text)
    assert report.households_created == 3
    assert report.warnings == [
        "line 2: household_number: same digits 1234 as household '1234'",
        "line 2: member_number: same digits 123401 as member '1234-01'",
        "line 3: household_number: same digits 1234 as household '12-34'",
        "line 3: member_number: same digits 123401 as member '12-3401'",
        "line 4: household_number: same digits 551 as household '55-1'",
        "line 4: member_number: same digits 55101 as member '55-101'",
    ]


def test_member_of_another_household_is_refused(db: Session, toml_mutual: Mutual) -> None:
    import_members(db, toml_mutual, HEADER + _row("1", "101", "head") + _row("1", "102"))
    with pytest.raises(ImportErrors) as raised:
        import_members(db, toml_mutual, HEADER + _row("2", "201", "head") + _row("2", "102"))
    assert raised.value.errors == ["line 3: member_number: '102' is in household '1'"]


def test_a_new_head_needs_the_old_one_listed(db: Session, toml_mutual: Mutual) -> None:
    """Exactly one head per household, counting the database: replacing a head means
    listing the former one too (as a dependant, or as removed/deceased)."""
    import_members(db, toml_mutual, HEADER + _row("1", "101", "head") + _row("1", "102"))
    with pytest.raises(ImportErrors) as raised:
        import_members(db, toml_mutual, HEADER + _row("1", "102", "head"))
    assert raised.value.errors == [
        "line 2: relationship: the household already has head '101': list that member too"
    ]
    left = _row("1", "101", status="deceased", left_on="2025-06-01")
    report = import_members(db, toml_mutual, HEADER + _row("1", "102", "head") + left)
    assert report.beneficiaries_updated == 2


def test_household_values_come_from_the_head(db: Session, toml_mutual: Mutual) -> None:
    text = HEADER + _row("1", "101", "head", section="Nord") + _row("1", "102", section="Sud")
    report = import_members(db, toml_mutual, text)
    assert report.warnings == [
        "line 3: section: ignored, the household's value is on its head's line 2"
    ]
    section = _household(db, "1").section
    assert section is not None and section.name == "Nord"


def test_a_suspension_in_the_file_and_its_lifting(db: Session, toml_mutual: Mutual) -> None:
    """D11, D23: `suspended` in the file suspends (an event); a file saying `active` for a
    suspended member lifts it (an event); a file saying `suspended` again changes nothing."""
    import_members(db, toml_mutual, MEMBERS)
    text = MEMBERS.read_text(encoding="utf-8")
    head = _member(db, "H-00101")
    line = next(row for row in text.splitlines() if ",H-00101," in row)
    cells = line.split(",")
    cells[COLUMNS.index("status")] = "suspended"
    suspended = text.replace(line, ",".join(cells))
    report = import_members(db, toml_mutual, io.StringIO(suspended))
    assert report.beneficiaries_updated == 1
    db.refresh(head)
    assert (head.status, head.status_reason) == ("suspended", f"members import, line {2}")
    assert import_members(db, toml_mutual, io.StringIO(suspended)).beneficiaries_updated == 0
    import_members(db, toml_mutual, MEMBERS)
    db.refresh(head)
    assert (head.status, head.status_reason) == ("active", None)
    kinds = db.scalars(select(HouseholdEvent.type).order_by(HouseholdEvent.id)).all()
    assert kinds[-2:] == ["suspend", "lift"]


@pytest.fixture
def cli(engine: Engine, database_url: str) -> Any:
    """Runs `gateway ...` on the test database (`engine` empties PostgreSQL afterwards)."""
    env = {"DATABASE_URL": database_url, "GATEWAY_ENV": "test"}

    def run(*args: str) -> Any:
        return CliRunner().invoke(main, list(args), env=env)

    assert run("mutual", "load", str(DATA / "mutual.toml")).exit_code == 0
    return run


def test_cli_import_then_json_reimport(cli: Any) -> None:
    result = cli("members", "import", str(MEMBERS), "--mutual", "TST")
    assert result.exit_code == 0, result.output
    assert "households: 3 created, 0 updated, 0 unchanged" in result.output
    result = cli("members", "import", str(MEMBERS), "--mutual", "TST", "--json")
    report = json.loads(result.output)
    assert (report["beneficiaries_created"], report["beneficiaries_unchanged"]) == (0, 7)


def test_cli_bad_file_and_unknown_mutual(cli: Any) -> None:
    result = cli("members", "import", str(DATA / "members_bad.csv"), "--mutual", "TST")
    assert result.exit_code == 1
    assert "line 12: left_on: before enrolled_on" in result.output
    assert "Error: 20 problem(s), nothing written" in result.output
    result = cli("members", "import", str(MEMBERS), "--mutual", "NOPE")
    assert result.exit_code == 1
    assert "unknown mutual 'NOPE'" in result.output
    result = cli("members", "import", str(MEMBERS), "--mutual", "TST", "--dry-run")
    assert "dry run: nothing written" in result.output
    result = cli("members", "import", str(MEMBERS), "--mutual", "TST", "--json")
    assert json.loads(result.output)["households_created"] == 3


@pytest.mark.parametrize(
    "raw",
    ["70123412", "70 12 34 12", "70.12.34.12", "70-12-34-12", "+226 70 12 34 12",
     "0022670123412", "00226 70 12 34 12", " 22670123412", "(+226) 70 12 34 12"],
)  # fmt: skip
def test_phone_notations_normalise_to_e164(raw: str) -> None:
    """Phones are normalised once, at the edge (architecture.md), with the mutual's country;
    a leading space is a `+` lost in URL decoding."""
    assert normalize_msisdn(raw, "BF") == "+22670123412"


@pytest.mark.parametrize("raw", ["", "12345", "+22620123456", "70 12 34 1x", "+1 555"])
def test_invalid_phones_say_why(raw: str) -> None:
    with pytest.raises(InvalidPhone, match="phone number"):
        normalize_msisdn(raw, "BF")


def test_masks_and_digits() -> None:
    assert mask_msisdn("+22670123412") == "+22670****12"
    assert digits_of("H-00 12/B") == "0012"


def test_a_file_that_is_not_utf8(db: Session, toml_mutual: Mutual, tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes((HEADER + _row("1", "101", "head", full_name="Kaboré")).encode("latin-1"))
    with pytest.raises(ImportErrors, match=r"latin1\.csv: not UTF-8 text"):
        import_members(db, toml_mutual, path)
