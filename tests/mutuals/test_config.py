"""`gateway mutual load` and `load_mutual` (interfaces.md, Files: Mutual; D1-D4, D14-D16)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gateway.cli import main
from gateway.models import Campaign, Funder, Mutual, Product, ReminderRule, Subsidy
from gateway.services.mutuals.config import ConfigError, load_mutual
from tests.support.paths import DATA

MUTUAL_TOML = DATA / "mutual.toml"
MINIMAL = """
[mutual]
code = "MIN"
name = "Mutuelle minimale"
country = "BF"
timezone = "Africa/Ouagadougou"
sections = ["Nord"]

[[products]]
code = "STD"
name = "Base"
contribution = 6000
"""


def _counts(session: Session) -> dict[str, int]:
    models = (Mutual, Product, Subsidy, Funder, Campaign, ReminderRule)
    return {m.__name__: session.scalar(select(func.count()).select_from(m)) or 0 for m in models}


def test_loads_every_setting(db: Session) -> None:
    """Every key of the file lands on the models (D1-D4, D14-D16)."""
    mutual = load_mutual(db, MUTUAL_TOML)
    assert (mutual.code, mutual.country, mutual.timezone) == ("TST", "BF", "Africa/Ouagadougou")
    assert mutual.short_name == "MS Test" and mutual.sms_name == "MS Test"
    assert mutual.languages == ["fr", "en"] and mutual.service_codes == ["*144*7#"]
    # The file gives the sending window 07:30-19:00; quiet hours are the rest (D16).
    assert mutual.quiet_hours_end == dt.time(7, 30)
    assert mutual.quiet_hours_start == dt.time(19, 0)
    assert mutual.catch_up_hours == 24 and mutual.payment_provider == "cinetpay"
    assert mutual.payment_settings == {"site_id": "123456", "channels": ["ORANGE", "MOOV"]}
    assert [s.name for s in mutual.sections] == ["Nord", "Sud"]
    std, month = mutual.products
    assert (std.contribution, std.registration_fee, std.waiting_days) == (6000, 500, 60)
    assert std.join_window_days == 30  # D1: defaults to grace_days
    assert std.renewal_notice_days == 45  # D6b
    assert std.coverage_start == "01-01" and std.copay == {"csps": 10, "chr": 30}
    assert [(s.category, s.member_share) for s in std.subsidies] == [
        ("indigent", 0),
        ("subsidised", 50),
    ]
    funders = {s.category: s.funder for s in std.subsidies}
    assert funders["indigent"] is not None
    assert funders["indigent"].code == "ministere-de-l-action-sociale"
    assert funders["indigent"].name == "Ministère de l'Action sociale"
    assert [(levy.name, levy.basis_points) for levy in std.levies] == [("FGN", 250)]  # D4
    assert (month.period, month.installments, month.newborn_waiting) == ("month", False, True)


def test_campaign_defaults(db: Session) -> None:
    """D14: product defaults to the first, for_period to the first period starting on or
    after opens_on; D15: each rule without a template gets its anchor's."""
    load_mutual(db, MUTUAL_TOML)
    campaign = db.scalars(select(Campaign)).one()
    assert campaign.product.code == "STD"
    assert campaign.for_period == dt.date(2027, 1, 1)
    assert campaign.sections == ["Nord"]
    rules = [(r.anchor, r.offset_days, r.repeat_every_days, r.template) for r in campaign.reminders]
    assert rules == [
        ("opens", 0, 14, "campaign_opening"),
        ("closes", -7, None, "campaign_closing"),
        ("coverage_end", -15, None, "campaign_reminder"),
    ]


def test_for_period_of_a_monthly_product(db: Session) -> None:
    text = MINIMAL.replace("contribution = 6000", 'contribution = 600\nperiod = "month"')
    text += '[[campaigns]]\ncode = "C"\nname = "c"\nopens_on = 2026-11-15\ncloses_on = 2026-12-31\n'
    load_mutual(db, text)
    assert db.scalars(select(Campaign.for_period)).one() == dt.date(2026, 12, 1)


def test_reloading_the_same_file_changes_nothing(db: Session) -> None:
    """Idempotent: a second load touches no row."""
    load_mutual(db, MUTUAL_TOML)
    db.commit()
    before = _counts(db)
    ids = sorted(db.scalars(select(ReminderRule.id)))
    load_mutual(db, MUTUAL_TOML)
    assert not db.new and not db.deleted
    assert not [obj for obj in db.dirty if db.is_modified(obj)]
    assert _counts(db) == before and sorted(db.scalars(select(ReminderRule.id))) == ids


def test_reload_updates_in_place(db: Session) -> None:
    """Rows are matched by code/name and updated; what the file drops goes (subsidies,
    levies, rules), what others may reference stays (products, sections)."""
    mutual = load_mutual(db, MUTUAL_TOML)
    std_id = mutual.products[0].id
    text = MUTUAL_TOML.read_text(encoding="utf-8")
    text = text.replace("contribution = 6000", "contribution = 6500")
    text = text.replace('  { category = "subsidised", member_share = 50, funder = "Etat" },\n', "")
    text = text.replace("repeat_every_days = 14", "repeat_every_days = 7")
    text = text.replace('[[products]]\ncode = "MOIS"', '[[products]]\ncode = "MOIS2"')
    load_mutual(db, text)
    db.expire_all()
    std = db.get_one(Product, std_id)
    assert std.contribution == 6500
    assert [s.category for s in std.subsidies] == ["indigent"]
    assert {p.code for p in db.get_one(Mutual, mutual.id).products} == {"STD", "MOIS", "MOIS2"}
    opens = db.scalars(select(ReminderRule).where(ReminderRule.anchor == "opens")).one()
    assert opens.repeat_every_days == 7


def test_minimal_file_gets_the_defaults(db: Session) -> None:
    mutual = load_mutual(db, MINIMAL)
    assert mutual.languages == ["fr"] and mutual.payment_provider == "sandbox"
    assert (mutual.quiet_hours_end, mutual.quiet_hours_start) == (dt.time(8), dt.time(20))
    assert mutual.catch_up_hours == 48
    assert mutual.short_name is None and mutual.sms_name == "MIN"  # SMS start with the code
    assert mutual.payment_hold_multiple == 5  # payments above 5 years of shares wait
    product = mutual.products[0]
    assert product.renewal_notice_days == 60  # D6b's default
    assert (product.period, product.registration_fee, product.installments) == ("year", 0, True)


ERRORS = [
    (
        'name = "Mutuelle minimale"',
        'name = "Mutuelle minimale"\npayment_hold_multiple = -1',
        "mutual.payment_hold_multiple: must be a whole number",
    ),
    (
        'name = "Mutuelle minimale"',
        'name = "Mutuelle minimale"\nshort_name = "Mutuelle de sante de Koudougou"',
        "mutual.short_name: must be a non-empty text of at most 24 characters",
    ),
    (
        "contribution = 6000",
        "contribution = 6000\nrenewal_notice_days = -1",
        "products[0].renewal_notice_days: must be a whole number of days between 0 and 366, got -1",
    ),
    # (replace this, with that, expected problem)
    (
        "contribution = 6000",
        "contribution = 6000.5",
        "products[0].contribution: must be a whole number of XOF >= 0, got 6000.5",
    ),
    (
        "contribution = 6000",
        "contribution = true",
        "products[0].contribution: must be a whole number of XOF >= 0, got true",
    ),
    (
        "contribution = 6000",
        'contribution = "6000"',
        'products[0].contribution: must be a whole number of XOF >= 0, got "6000"',
    ),
    (
        "contribution = 6000",
        "contribution = -1",
        "products[0].contribution: must be a whole number of XOF >= 0, got -1",
    ),
    (
        "contribution = 6000",
        "contribution = 6000\ncontribtion = 1",
        "products[0].contribtion: unknown key (did you mean contribution?)",
    ),
    ('timezone = "Africa/Ouagadougou"', "", "mutual.timezone: is required"),
    (
        'timezone = "Africa/Ouagadougou"',
        'timezone = "Africa/Ouaga"',
        'mutual.timezone: must be a time zone such as "Africa/Ouagadougou", got "Africa/Ouaga"',
    ),
    (
        'country = "BF"',
        'country = "Burkina"',
        'mutual.country: must be an ISO 3166 alpha-2 country code such as "BF", got "Burkina"',
    ),
    (
        'sections = ["Nord"]',
        'sections = ["Nord"]\nsms_sender_id = "MUTUELLEKOUD"',
        'mutual.sms_sender_id: must be at most 11 letters, digits or spaces, got "MUTUELLEKOUD"',
    ),
    (
        'sections = ["Nord"]',
        'sections = ["Nord"]\nquiet_hours = ["20:00", "08:00"]',
        'mutual.quiet_hours: must be ["HH:MM", "HH:MM"], the sending window\'s start then end',
    ),
    (
        'sections = ["Nord"]',
        'sections = ["Nord"]\nquiet_hours = ["8h", "20:00"]',
        'mutual.quiet_hours[0]: must be a time "HH:MM", got "8h"',
    ),
    (
        'sections = ["Nord"]',
        'sections = ["Nord"]\nlanguages = ["fr", "fr"]',
        'mutual.languages[1]: duplicate "fr"',
    ),
    (
        'sections = ["Nord"]',
        'sections = ["Nord"]\npayment_provider = "paypal"',
        'mutual.payment_provider: must be one of sandbox, cinetpay, mtnmomo, got "paypal"',
    ),
    (
        'sections = ["Nord"]',
        'sections = ["Nord"]\n[payment]\napi_key = "x"',
        "payment.api_key: secrets come from the environment, not from this file",
    ),
    (
        'sections = ["Nord"]',
        'sections = ["Nord"]\n[payment]\nsince = 2026-01-01',
        "payment.since: must be text, a number, true/false or a list of them, got",
    ),
    (
        "contribution = 6000",
        'contribution = 6000\ncoverage_start = "13-01"',
        'products[0].coverage_start: must be a day of the year "MM-DD", got "13-01"',
    ),
    (
        "contribution = 6000",
        'contribution = 6000\nperiod = "month"\ncoverage_start = "07-01"',
        "products[0].coverage_start: monthly products follow calendar months",
    ),
    (
        "contribution = 6000",
        'contribution = 6000\nperiod = "week"',
        'products[0].period: must be one of year, month, got "week"',
    ),
    (
        "contribution = 6000",
        'contribution = 6000\nlevies = [{name = "FGN", percent = 2.555}]',
        "products[0].levies[0].percent: must have at most two decimals, got 2.555",
    ),
    (
        "contribution = 6000",
        "contribution = 6000\ncopay = {csps = 120}",
        "products[0].copay.csps: must be a percent between 0 and 100, got 120",
    ),
    (
        "contribution = 6000",
        'contribution = 6000\nsubsidies = [{category = "x", member_share = 120, funder = "E"}]',
        "products[0].subsidies[0].member_share: must be a whole number between 0 and 100, got 120",
    ),
    (
        "contribution = 6000",
        'contribution = 6000\nsubsidies = [{category = "x", member_share = 50}]',
        "products[0].subsidies[0].funder: is required when member_share < 100",
    ),
    (
        '[[products]]\ncode = "STD"\nname = "Base"\ncontribution = 6000\n',
        '[[products]]\ncode = "STD"\nname = "Base"\ncontribution = 6000\n' * 2,
        'products[1].code: duplicate "STD"',
    ),
]
CAMPAIGN = (
    '\n[[campaigns]]\ncode = "C"\nname = "c"\nopens_on = 2026-11-01\ncloses_on = 2027-01-31\n'
)
CAMPAIGN_ERRORS = [
    (
        "closes_on = 2027-01-31",
        "closes_on = 2026-10-01",
        "campaigns[0].closes_on: is before opens_on",
    ),
    (
        "closes_on = 2027-01-31",
        'closes_on = 2027-01-31\nproduct = "GOLD"',
        "campaigns[0].product: unknown product 'GOLD'",
    ),
    (
        "closes_on = 2027-01-31",
        'closes_on = 2027-01-31\nsections = ["Est"]',
        "campaigns[0].sections: unknown section 'Est'",
    ),
    (
        "closes_on = 2027-01-31",
        "closes_on = 2027-01-31\nfor_period = 2027-02-01",
        "campaigns[0].for_period: is not the first day of a coverage period",
    ),
    (
        "closes_on = 2027-01-31",
        'closes_on = "31/01/2027"',
        'campaigns[0].closes_on: must be a date YYYY-MM-DD, got "31/01/2027"',
    ),
    (
        "closes_on = 2027-01-31",
        'closes_on = 2027-01-31\n[[campaigns.reminders]]\nanchor = "open"',
        'campaigns[0].reminders[0].anchor: must be one of opens, closes, coverage_end, got "open"',
    ),
    (
        "closes_on = 2027-01-31",
        'closes_on = 2027-01-31\n[[campaigns.reminders]]\nanchor = "opens"\ntemplate = "remind"',
        "campaigns[0].reminders[0].template: must be one of campaign_opening",
    ),
    (
        "closes_on = 2027-01-31",
        'closes_on = 2027-01-31\n[[campaigns.reminders]]\nanchor = "opens"\nrepeat_every_days = 0',
        "campaigns[0].reminders[0].repeat_every_days: must be a whole number of days >= 1, got 0",
    ),
    (
        "closes_on = 2027-01-31",
        'closes_on = 2027-01-31\n[[campaigns.reminders]]\nanchor = "opens"\n'
        '[[campaigns.reminders]]\nanchor = "opens"',
        "campaigns[0].reminders: two rules with the same anchor and offset",
    ),
]


@pytest.mark.parametrize(("old", "new", "expected"), ERRORS + CAMPAIGN_ERRORS)
def test_each_problem_names_its_key(db: Session, old: str, new: str, expected: str) -> None:
    """Every class of mistake is reported with the dotted key at fault; nothing is written."""
    text = MINIMAL + CAMPAIGN if (old, new, expected) in CAMPAIGN_ERRORS else MINIMAL
    assert old in text
    with pytest.raises(ConfigError) as raised:
        load_mutual(db, text.replace(old, new, 1))
    assert any(problem.startswith(expected) for problem in raised.value.problems), (
        raised.value.problems
    )
    assert db.scalar(select(func.count()).select_from(Mutual)) == 0


def test_every_problem_is_reported_at_once(db: Session) -> None:
    text = MINIMAL.replace('country = "BF"', 'country = "XX"').replace("6000", "6000.5")
    text = text.replace('name = "Base"', 'name = "Base"\nwaiting_days = "60"\ncolour = "red"')
    with pytest.raises(ConfigError) as raised:
        load_mutual(db, text)
    keys = [problem.split(":")[0] for problem in raised.value.problems]
    assert keys == [
        "mutual.country",
        "products[0].colour",
        "products[0].contribution",
        "products[0].waiting_days",
    ]


def test_toml_syntax_error_gives_line_and_column(db: Session) -> None:
    with pytest.raises(ConfigError) as raised:
        load_mutual(db, "[mutual]\ncode = \n")
    assert raised.value.problems == ["TOML: invalid TOML: Invalid value (at line 2, column 8)"]


def test_unreadable_file(db: Session, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_mutual(db, tmp_path / "missing.toml")


def test_cli_mutual_load(engine: Engine, database_url: str, tmp_path: Path) -> None:
    """`gateway mutual load FILE.toml`: prints the mutual, exits 1 listing every problem.
    (`engine` empties PostgreSQL afterwards.)"""
    env = {"DATABASE_URL": database_url, "GATEWAY_ENV": "test"}
    result = CliRunner().invoke(main, ["mutual", "load", str(MUTUAL_TOML)], env=env)
    assert result.exit_code == 0, result.output
    assert "mutual TST loaded; products: STD, MOIS" in result.output
    bad = tmp_path / "bad.toml"
    bad.write_text(MINIMAL.replace("6000", "6000.5"), encoding="utf-8")
    result = CliRunner().invoke(main, ["mutual", "load", str(bad)], env=env)
    assert result.exit_code == 1
    assert "products[0].contribution: must be a whole number of XOF" in result.output
    assert "Error: 1 problem(s), nothing written" in result.output


SMS_PRICES = """
[sms]
price_per_segment = 25

[[sms.operators]]
name = "orange"
prefixes = ["+22607", "+22654"]
price_per_segment = 20

[[campaigns]]
code = "C1"
name = "Campagne"
opens_on = 2026-11-01
closes_on = 2027-01-31
budget = 50000
"""


def test_sms_prices_and_campaign_budget(db: Session) -> None:
    """messaging.md "Text and cost": [sms] prices go to mutuals.sms_settings, the campaign's
    budget to campaigns.budget; a file without [sms] gets 25 XOF per segment."""
    mutual = load_mutual(db, MINIMAL + SMS_PRICES)
    assert mutual.sms_settings == {
        "price_per_segment": 25,
        "operators": [
            {"name": "orange", "prefixes": ["+22607", "+22654"], "price_per_segment": 20}
        ],
    }
    campaign = db.scalars(select(Campaign)).one()
    assert campaign.budget == 50000
    plain = load_mutual(db, MINIMAL.replace('"MIN"', '"MIN2"'))
    assert plain.sms_settings == {"price_per_segment": 25, "operators": []}


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("price_per_segment = 25", "price_per_segment = -1", "sms.price_per_segment"),
        ('"+22607", "+22654"', '"22607"', "sms.operators[0].prefixes"),
        ("budget = 50000", 'budget = "lots"', "campaigns[0].budget"),
        ('name = "orange"', 'nom = "orange"', "sms.operators[0].nom: unknown key"),
    ],
)
def test_bad_sms_settings_are_named(db: Session, old: str, new: str, expected: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_mutual(db, MINIMAL + SMS_PRICES.replace(old, new, 1))
    assert expected in str(raised.value)
    assert db.scalars(select(Mutual)).all() == []
