"""Numbers that never match the wrong record (ussd.md, menu map; issue 14): the digits
fallback is for keypad input only, and a head carrying the household's own number is the
person, on USSD and by default on `gateway eligibility` (`--kind` chooses)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session

from gateway.cli import main
from gateway.models import Household, Mutual
from gateway.services.coverage import lookup
from gateway.services.coverage.lookup import AmbiguousNumber, find_number
from tests.support.factories import add_beneficiary, make_household, make_mutual


def run(database_url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        main, list(args), env={"DATABASE_URL": database_url, "GATEWAY_ENV": "test"}
    )
    return result.exit_code, result.output


def numbered(db: Session, mutual: Mutual, number: str, head_number: str | None = None) -> Household:
    """A household of two whose head carries `head_number` (default: its own number + 01)."""
    household = make_household(db, mutual, members=2)
    household.number, household.digits = number, _digits(number)
    head, child = household.beneficiaries
    head.number = head_number or f"{number}-01"
    head.digits = _digits(head.number)
    child.number, child.digits = f"{number}-02", _digits(f"{number}-02")
    db.flush()
    return household


def _digits(number: str) -> str:
    return "".join(c for c in number if c.isdigit())


def test_keypad_input_is_digits_and_separators_only() -> None:
    assert all(lookup.is_keypad(v) for v in ("011", "01-1", "0 1 1", "01/1", "01.1", " 011"))
    assert not any(lookup.is_keypad(v) for v in ("Z01-1", "H011", "01-1a", "", "-", "01_1", "01#"))


def test_letters_never_fall_back_to_digits(db: Session) -> None:
    """`Z01-1` is another card than `H01-1` (they share the digits 011): unknown, never H01-1."""
    mutual = make_mutual(db)
    household = numbered(db, mutual, "H01-1")
    assert find_number(db, "Z01-1") is None
    assert find_number(db, "Z01-1-01") is None
    for typed in ("011", "01-1", "0 1 1", "01/1", "01.1"):
        found = find_number(db, typed)
        assert found is not None and found.household == household, typed
        assert found.kind == "household"
    found = find_number(db, "01101")
    assert found is not None and found.beneficiary == household.beneficiaries[0]


def test_cli_eligibility_of_a_number_with_letters_is_unknown(
    db: Session, database_url: str
) -> None:
    """Issue 14: `gateway eligibility Z01-1` answered for H01-1."""
    numbered(db, make_mutual(db), "H01-1")
    db.commit()
    code, out = run(database_url, "eligibility", "Z01-1", "--json")
    assert code == 0, out
    data = json.loads(out)
    assert (data["number"], data["status"]) == ("Z01-1", "UNKNOWN")
    code, out = run(database_url, "eligibility", "011", "--json")
    assert (code, json.loads(out)["household"]) == (0, "H01-1")


def test_a_head_carrying_the_household_number_is_the_person(db: Session) -> None:
    """One household and its own head answer to the number: the person, as typed or keyed."""
    mutual = make_mutual(db)
    household = numbered(db, mutual, "H01-1", head_number="H01-1")
    head = household.beneficiaries[0]
    for typed in ("H01-1", "011", "01-1"):
        found = find_number(db, typed)
        assert found is not None and (found.kind, found.beneficiary) == ("beneficiary", head)
        found = find_number(db, typed, kind="household")
        assert found is not None and (found.kind, found.household) == ("household", household)
        found = find_number(db, typed, mutual.id, kind="beneficiary")
        assert found is not None and found.beneficiary == head
    with pytest.raises(ValueError, match="kind must be one of household, beneficiary"):
        find_number(db, "H01-1", kind="member")


def test_other_shared_numbers_stay_ambiguous(db: Session) -> None:
    """Only a household and its own head are one answer: a dependant carrying the household
    number, another household's member, or a third card with the same digits is not."""
    mutual = make_mutual(db)
    household = numbered(db, mutual, "H01-1")
    spouse = add_beneficiary(db, household, dt.date(2025, 12, 1), relation="spouse")
    spouse.number, spouse.digits = "H01-1", "011"
    db.flush()
    with pytest.raises(AmbiguousNumber, match=r"H01-1 matches 2 records: household H01-1, bene"):
        find_number(db, "H01-1")
    spouse.number, spouse.digits = "H02-2", "022"
    other = numbered(db, mutual, "H03-3")
    other.beneficiaries[1].number, other.beneficiaries[1].digits = "H01-1", "011"
    db.flush()
    with pytest.raises(AmbiguousNumber) as raised:
        find_number(db, "H01-1")
    assert raised.value.kinds == 2 and raised.value.mutuals == 1
    other.beneficiaries[1].number, other.beneficiaries[1].digits = "H03-3-02", "03302"
    db.flush()  # one number a beneficiary (unique per mutual): free it first
    household.beneficiaries[0].number = "H01-1"
    household.beneficiaries[0].digits = "011"
    numbered(db, mutual, "Z01-1")
    db.flush()
    found = find_number(db, "H01-1")  # as printed: the head, the Z card is another number
    assert found is not None and found.beneficiary == household.beneficiaries[0]
    with pytest.raises(AmbiguousNumber, match="011 matches 3 records"):
        find_number(db, "011")


def test_cli_kind_chooses_household_or_person(db: Session, database_url: str) -> None:
    """`--kind` (an addition to interfaces.md): without it, the person."""
    mutual = make_mutual(db)
    numbered(db, mutual, "H01-1", head_number="H01-1")
    db.commit()
    code, out = run(database_url, "eligibility", "H01-1", "--on", "2026-02-01", "--json")
    assert code == 0, out
    data = json.loads(out)
    assert (data["kind"], data["number"], data["household"]) == ("beneficiary", "H01-1", "H01-1")
    code, out = run(database_url, "eligibility", "H01-1", "--kind", "household", "--json")
    data = json.loads(out)
    assert (code, data["kind"], data["status"]) == (0, "household", "NOT_UP_TO_DATE")
    assert len(data["members"]) == 2
    code, out = run(database_url, "eligibility", "011", "--kind", "beneficiary")
    assert code == 0 and out.startswith("beneficiary H01-1: NOT_COVERED")
    code, out = run(database_url, "eligibility", "H01-1-02", "--kind", "household", "--json")
    data = json.loads(out)
    assert (code, data["kind"], data["status"]) == (0, "household", "UNKNOWN")
    code, out = run(database_url, "eligibility", "H01-1", "--kind", "member")
    assert code == 2 and "--kind" in out
    code, out = run(database_url, "eligibility", "--help")
    text = " ".join(out.split())
    assert "--kind [household|beneficiary]" in text and "the answer is for the person" in text


def test_cli_ambiguity_names_the_records_and_what_tells_them_apart(
    db: Session, database_url: str
) -> None:
    mutual = make_mutual(db)
    numbered(db, mutual, "H01-1")
    numbered(db, mutual, "Z01-1")
    other = make_mutual(db, code="AUTRE")
    numbered(db, other, "H01-1")
    db.commit()
    code, out = run(database_url, "eligibility", "01-1", "--mutual", "MUT")
    assert code == 1
    assert out.strip() == (
        "Error: number 01-1 matches 2 records: household H01-1, household Z01-1; "
        "give the number as printed on the card (with its letters)"
    )
    code, out = run(database_url, "eligibility", "H01-1")
    assert code == 1
    assert out.strip() == (
        "Error: number H01-1 matches 2 records: household H01-1 (MUT), household H01-1 "
        "(AUTRE); give --mutual CODE"
    )
    code, out = run(database_url, "eligibility", "H01-1", "--mutual", "AUTRE", "--json")
    assert code == 0 and json.loads(out)["household"] == "H01-1"
