"""`mutual load` renders every SMS template in each of the mutual's languages with its own
values and refuses a file whose templates overflow one segment (issue 15, messaging.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gateway.cli import main
from gateway.services.messaging import overflows
from gateway.services.mutuals.config import ConfigError, load_mutual

LONG_CONTACT = "Mutuelle de Koudougou: 70 00 00 09, lundi-vendredi 8h-17h"  # the old demo's
FILE = """
[mutual]
code = "FIT"
name = "Mutuelle FIT"
short_name = "{short_name}"
country = "BF"
timezone = "Africa/Ouagadougou"
languages = ["fr", "en"]
contact = "{contact}"

[[products]]
code = "STD"
contribution = 6000
"""
CAMPAIGN = """
[[campaigns]]
code = "C1"
name = "{name}"
product = "STD"
opens_on = 2027-01-01
closes_on = 2027-03-31
"""


def fit_file(contact: str = "70 00 00 09", short_name: str = "MS FIT", campaign: str = "") -> str:
    text = FILE.format(contact=contact, short_name=short_name)
    return text + (CAMPAIGN.format(name=campaign) if campaign else "")


def test_a_contact_that_overflows_the_help_sms_is_refused_with_its_key(db: Session) -> None:
    with pytest.raises(ConfigError) as raised:
        load_mutual(db, fit_file(contact=LONG_CONTACT, short_name="MS Koudougou"))
    assert raised.value.problems == [
        "mutual.contact: the 'help' SMS (fr) is 12 character(s) over one segment with the "
        "20-character opt-out reserve: shorten it",
        "mutual.contact: the 'help' SMS (en) is 6 character(s) over one segment with the "
        "20-character opt-out reserve: shorten it",
    ]


def test_a_campaign_name_that_overflows_is_refused_with_its_key(db: Session) -> None:
    with pytest.raises(ConfigError) as raised:
        load_mutual(db, fit_file(campaign="Campagne de renouvellement des adhesions " * 2))
    assert raised.value.problems
    assert all(p.startswith("campaigns[0].name: the 'campaign_") for p in raised.value.problems)


def test_values_that_fit_load(db: Session) -> None:
    mutual = load_mutual(db, fit_file(campaign="Campagne 2027", short_name="Mutuelle Sante Koudou"))
    assert mutual.contact == "70 00 00 09"


def test_the_demo_mutual_fits() -> None:
    load = {"mutual": "MS Koudougou", "contact": "70 00 00 09, lun-ven 8h-17h"}
    assert overflows(["fr", "en"], load, ["contact", "mutual"]) == []


def test_an_overflow_is_blamed_on_the_mutual_name_when_nothing_else_is_used() -> None:
    (found, *_) = overflows(["fr", "fr", "xx"], {"mutual": "M" * 120}, ["contact", "mutual"])
    assert found.placeholder == "mutual" and found.language == "fr"


def test_cli_refuses_the_file_and_names_the_key(engine: Engine, cli_env: dict[str, str],
                                                tmp_path: Path) -> None:  # fmt: skip
    path = tmp_path / "fit.toml"
    path.write_text(fit_file(contact=LONG_CONTACT), encoding="utf-8")
    result = CliRunner().invoke(main, ["mutual", "load", str(path)], env=cli_env)
    assert result.exit_code == 1
    assert "mutual.contact: the 'help' SMS (fr) is" in result.output
    assert "nothing written" in result.output
