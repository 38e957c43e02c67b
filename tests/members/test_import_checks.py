"""Members import, issue 14: a number that is another record's is refused (ussd.md: a number
answers for one record; only a head may carry its household's own number), and so are
births and enrolments after today, the mutual's day (gateway.clock.local_date)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gateway.cli import main
from gateway.cli.context import CliContext
from gateway.clock import FixedClock
from gateway.models import Beneficiary, Mutual
from gateway.services.coverage import find_number
from gateway.services.members.importer import COLUMNS, ImportErrors, import_members
from tests.support.factories import make_mutual
from tests.support.paths import DATA

HEADER = ",".join(COLUMNS) + "\n"
TODAY = dt.date(2026, 3, 10)


def _row(household: str, member: str, relation: str = "child", **cells: str) -> str:
    values = {"household_number": household, "member_number": member, "full_name": "A B"}
    values |= {"sex": "F", "relationship": relation, "enrolled_on": "2025-01-01"}
    if relation == "head":
        values["phone"] = "70 12 34 56"
    values.update(cells)
    return ",".join(values.get(column, "") for column in COLUMNS) + "\n"


def _beneficiaries(db: Session) -> int:
    return int(db.scalar(select(func.count()).select_from(Beneficiary)) or 0)


def test_a_head_may_carry_its_household_number(db: Session, toml_mutual: Mutual) -> None:
    """The case lookup.find_number answers for the person: imported, and no warning about
    the household and its head sharing digits."""
    text = HEADER + _row("H01-1", "H01-1", "head") + _row("H01-1", "H01-1-02")
    report = import_members(db, toml_mutual, text)
    assert (report.households_created, report.beneficiaries_created) == (1, 2)
    assert report.warnings == []
    assert import_members(db, toml_mutual, text).warnings == []  # against the database too
    found = find_number(db, "011")
    assert found is not None and (found.kind, found.number) == ("beneficiary", "H01-1")


def test_a_member_number_that_is_another_household_is_refused(
    db: Session, toml_mutual: Mutual
) -> None:
    """Each line names the number and where the other record is; the other bad lines are
    listed too and nothing is imported."""
    text = HEADER + _row("H01-1", "H01-1-01", "head")
    text += _row("H02-2", "H02-2-01", "head", phone="70 11 11 11")
    text += _row("H02-2", "H01-1")  # another household's number
    text += _row("H02-2", "H02-2", sex="X")  # its own household's number, not the head
    clash = [
        "line 2: household_number: 'H01-1' is the number of member 'H01-1' of household "
        "'H02-2' (line 4)",
        "line 4: member_number: 'H01-1' is the number of household 'H01-1' (line 2)",
    ]
    with pytest.raises(ImportErrors) as raised:
        import_members(db, toml_mutual, text)
    assert raised.value.errors == [*clash, "line 5: sex: must be one of M, F, got 'X'"]
    with pytest.raises(ImportErrors) as raised:
        import_members(db, toml_mutual, text.replace(",X,", ",F,"))
    assert raised.value.errors == [
        *clash,
        "line 5: member_number: 'H02-2' is its household's own number: only the head may carry it",
    ]
    assert _beneficiaries(db) == 0


def test_numbers_already_registered_are_refused_too(db: Session, toml_mutual: Mutual) -> None:
    """Against the mutual's register: a member numbered like a registered household, a
    household numbered like a registered member of another household."""
    import_members(db, toml_mutual, HEADER + _row("H01-1", "B-7", "head"))
    with pytest.raises(ImportErrors) as raised:
        import_members(db, toml_mutual, HEADER + _row("B-7", "H01-1", "head"))
    assert raised.value.errors == [
        "line 2: household_number: 'B-7' is the number of member 'B-7' of household "
        "'H01-1' (already registered)",
        "line 2: member_number: 'H01-1' is the number of household 'H01-1' (already registered)",
    ]
    assert _beneficiaries(db) == 1


def test_another_mutual_may_use_the_same_numbers(db: Session, toml_mutual: Mutual) -> None:
    """Numbers are unique per mutual: the check is within the importing mutual."""
    import_members(db, toml_mutual, HEADER + _row("H01-1", "B-7", "head"))
    other = make_mutual(db, code="AUTRE")
    report = import_members(db, other, HEADER + _row("B-7", "H01-1", "head"))
    assert report.households_created == 1


def test_births_and_enrolments_after_today_are_refused(db: Session, toml_mutual: Mutual) -> None:
    text = HEADER + _row("1", "101", "head", birth_date="2026-03-11")
    text += _row("1", "102", birth_date="2026-03-10", enrolled_on="2026-03-11")
    with pytest.raises(ImportErrors) as raised:
        import_members(db, toml_mutual, text, not_after=TODAY)
    assert raised.value.errors == [
        "line 2: birth_date: 2026-03-11 is in the future (today is 2026-03-10)",
        "line 3: enrolled_on: 2026-03-11 is in the future (today is 2026-03-10)",
    ]
    text = HEADER + _row("1", "101", "head", birth_date="2026-03-10", enrolled_on="2026-03-10")
    assert import_members(db, toml_mutual, text, not_after=TODAY).beneficiaries_created == 1
    # Without `not_after`: the mutual's day by the wall clock.
    with pytest.raises(ImportErrors, match="line 2: enrolled_on: 2999-01-01 is in the future"):
        import_members(db, toml_mutual, HEADER + _row("2", "201", "head", enrolled_on="2999-01-01"))


@pytest.fixture
def cli(engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    env = {"DATABASE_URL": database_url, "GATEWAY_ENV": "test"}

    def run(*args: str, at: dt.datetime) -> Any:
        monkeypatch.setattr(CliContext, "clock", FixedClock(at))
        return CliRunner().invoke(main, list(args), env=env)

    loaded = run("mutual", "load", str(DATA / "mutual.toml"), at=dt.datetime.now(dt.UTC))
    assert loaded.exit_code == 0, loaded.output
    return run


def test_cli_refuses_future_dates_by_the_mutuals_day(
    cli: Any, tmp_path: Any, engine: Engine
) -> None:
    """`today` is the mutual's (Africa/Ouagadougou, UTC+0 here; the check is the same with
    any zone): an enrolment dated tomorrow is named with its line and field."""
    path = tmp_path / "members.csv"
    path.write_text(HEADER + _row("1", "101", "head", enrolled_on="2026-03-11"), encoding="utf-8")
    args = ("members", "import", str(path), "--mutual", "TST")
    result = cli(*args, at=dt.datetime(2026, 3, 10, 23, 59, tzinfo=dt.UTC))
    assert result.exit_code == 1
    assert "line 2: enrolled_on: 2026-03-11 is in the future (today is 2026-03-10)" in (
        result.output
    )
    result = cli(*args, at=dt.datetime(2026, 3, 11, 0, 1, tzinfo=dt.UTC))
    assert result.exit_code == 0, result.output


def test_cli_payments_today_is_the_mutuals_day(
    cli: Any, tmp_path: Any, db: Session, engine: Engine
) -> None:
    """A mutual east of UTC is already on the next day: a payment of that day is not in the
    future (the payments import used the UTC day)."""
    members = tmp_path / "members.csv"
    members.write_text(HEADER + _row("1", "101", "head"), encoding="utf-8")
    late = dt.datetime(2026, 3, 10, 22, 30, tzinfo=dt.UTC)  # 01:30 on the 11th in Nairobi
    assert cli("members", "import", str(members), "--mutual", "TST", at=late).exit_code == 0
    mutual = db.scalars(select(Mutual).where(Mutual.code == "TST")).one()
    mutual.timezone = "Africa/Nairobi"
    db.commit()
    payments = tmp_path / "payments.csv"
    header = "household_number,amount,paid_on,channel,reference\n"
    payments.write_text(header + "1,6000,2026-03-11,cash,R-1\n", encoding="utf-8")
    result = cli("payments", "import", str(payments), "--mutual", "TST", at=late)
    assert result.exit_code == 0, result.output
    payments.write_text(header + "1,6000,2026-03-12,cash,R-2\n", encoding="utf-8")
    result = cli("payments", "import", str(payments), "--mutual", "TST", at=late)
    assert result.exit_code == 1 and "line 2: paid_on: 2026-03-12 is in the future" in result.output
