"""Coverage reminders (D15 anchor `coverage_end`), the reminder amount equal to D6, and the
cost estimate and budget cap before a campaign starts (messaging.md, "Text and cost")."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.cli import main
from gateway.models import (
    Alert,
    Allocation,
    Household,
    OutboxMessage,
    ReminderOccurrence,
    ReminderRule,
)
from gateway.services import ledger
from gateway.services.coverage.periods import Period, period_row
from gateway.services.coverage.query import coverage
from gateway.services.ledger import posting
from gateway.services.reminders.due import run_reminders
from tests.support.reminders import WINDOW_OPENS, World, build

DAY = dt.timedelta(days=1)
Y2026 = Period(dt.date(2026, 1, 1), dt.date(2026, 12, 31))


def at(day: dt.date) -> dt.datetime:
    """08:00 in Nairobi (the window's opening) on that day, in UTC."""
    return dt.datetime.combine(day, dt.time(5, 0), tzinfo=dt.UTC)


def pay_2026(db: Session, world: World, household: Household) -> None:
    row = period_row(db, world.mutual.products[0], Y2026)
    for ben in household.beneficiaries:
        db.add(
            Allocation(
                mutual_id=world.mutual.id,
                household_id=household.id,
                beneficiary_id=ben.id,
                period_id=row.id,
                kind="contribution",
                member_amount=6000,
                allocated_on=dt.date(2026, 1, 10),
                ledger_key=f"alloc26:{ben.id}",
            )
        )
    db.flush()


def coverage_world(db: Session) -> World:
    """The reminders world with only coverage_end rules: -15, 0 and +30 (end of grace)."""
    world = build(db)
    world.campaign.reminders.clear()
    for offset, template in (
        (-15, "coverage_ending"),
        (0, "coverage_ending"),
        (30, "coverage_ended"),
    ):
        world.campaign.reminders.append(
            ReminderRule(anchor="coverage_end", offset_days=offset, template=template)
        )
    pay_2026(db, world, world.fr)  # covered to 31/12/2026, owes 2027
    db.flush()
    return world


def sent_to(db: Session) -> list[tuple[int | None, str]]:
    rows = db.execute(
        select(OutboxMessage.household_id, OutboxMessage.template).order_by(OutboxMessage.id)
    )
    return [(household, template) for household, template in rows]


def test_coverage_end_rules_fire_per_household_on_their_days(db: Session) -> None:
    """D15: offset_days from each household's coverage end (15 days before, on the day, the
    end of grace); households without a paid period have no coverage end."""
    world = coverage_world(db)
    assert run_reminders(db, at(dt.date(2026, 12, 15))).sent == 0
    first = run_reminders(db, at(dt.date(2026, 12, 16)))
    assert first.sent == 1
    assert sent_to(db) == [(world.fr.id, "coverage_ending")]
    message = db.scalars(select(OutboxMessage)).one()
    assert "31/12/2026" in message.text  # {until}: the coverage end
    assert "12 000 FCFA" in message.text  # renewal amount for 2027 (D6): 2 x 6 000
    assert run_reminders(db, at(dt.date(2026, 12, 16)) + dt.timedelta(hours=2)).sent == 0
    assert run_reminders(db, at(dt.date(2026, 12, 31))).sent == 1
    assert run_reminders(db, at(dt.date(2027, 1, 30))).sent == 1
    # 30/01/2027 is the last day of grace (30 days): the grace wording (D15)
    assert [t for _, t in sent_to(db)] == ["coverage_ending"] * 2 + ["coverage_grace"]
    occurrences = db.scalars(select(ReminderOccurrence.occurrence)).all()
    assert sorted(occurrences) == [
        dt.date(2026, 12, 16).toordinal(),
        dt.date(2026, 12, 31).toordinal(),
        dt.date(2027, 1, 30).toordinal(),
    ]


def test_a_household_in_grace_is_told_it_stays_covered_until_grace_ends(db: Session) -> None:
    """D10/D15: a coverage_end reminder sent while the household is in GRACE (its 2026
    period ended, within the product's 30 grace days, 2027 unpaid) uses coverage_grace, with
    the grace end as {until}; on the coverage end itself (still covered) and after grace
    (cover ended) the rule's own template."""
    world = build(db)
    world.campaign.reminders.clear()
    for offset in (0, 5, 31):
        world.campaign.reminders.append(
            ReminderRule(anchor="coverage_end", offset_days=offset, template="coverage_ended")
        )
    pay_2026(db, world, world.fr)
    pay_2026(db, world, world.en)
    for day in (dt.date(2026, 12, 31), dt.date(2027, 1, 5), dt.date(2027, 1, 31)):
        assert run_reminders(db, at(day)).sent == 2
    rows = db.execute(
        select(OutboxMessage.household_id, OutboxMessage.template, OutboxMessage.text).order_by(
            OutboxMessage.id
        )
    ).all()
    fr = [(t, text) for h, t, text in rows if h == world.fr.id]
    assert [t for t, _ in fr] == ["coverage_ended", "coverage_grace", "coverage_ended"]
    grace = fr[1][1]
    assert "couvert jusqu'au 30/01/2027 (grace)" in grace and "pas de nouveau stage" in grace
    assert "12 000 FCFA" in grace and "pris fin" not in grace
    assert "a pris fin le 31/12/2026" in fr[2][1]
    en = [text for h, t, text in rows if h == world.en.id and t == "coverage_grace"]
    assert en == [
        f"MUT: household {world.en.number} covered until 30/01/2027 (grace). "
        "Pay 6,000 FCFA by then: no new waiting period."
    ]


def test_coverage_end_reminders_catch_up_and_record_missed(db: Session) -> None:
    """D16/D17 with the same machinery: 30 hours late still sent, 72 hours late missed."""
    world = coverage_world(db)
    late = run_reminders(db, at(dt.date(2026, 12, 16)) + dt.timedelta(hours=30))
    assert (late.sent, late.missed) == (1, 0)
    later = run_reminders(db, at(dt.date(2026, 12, 31)) + dt.timedelta(hours=72))
    assert (later.sent, later.missed) == (0, 1)
    assert run_reminders(db, at(dt.date(2027, 1, 4))).missed == 0  # recorded once
    statuses = db.execute(
        select(ReminderOccurrence.household_id, ReminderOccurrence.status).order_by(
            ReminderOccurrence.id
        )
    ).all()
    assert [tuple(s) for s in statuses] == [(world.fr.id, "sent"), (world.fr.id, "missed")]


def test_coverage_end_waits_for_the_window_and_respects_consent(db: Session) -> None:
    """D16: due at 08:00 but first seen at 21:00 local: held until the window reopens, then
    sent (within catch-up); D18: a household that stopped reminders gets none."""
    world = coverage_world(db)
    evening = dt.datetime(2026, 12, 16, 18, 0, tzinfo=dt.UTC)  # 21:00 in Nairobi
    held = run_reminders(db, evening)
    assert (held.sent, held.outside_window) == (0, 1)
    assert run_reminders(db, at(dt.date(2026, 12, 17))).sent == 1
    world.fr.reminders_enabled = False
    db.flush()
    stopped = run_reminders(db, at(dt.date(2026, 12, 31)))
    assert (stopped.sent, stopped.skipped_consent) == (0, 2)


def test_the_reminder_amount_is_the_d6_amount_due(db: Session) -> None:
    """D6: registration fee if never paid, plus the shares, minus the household's credit:
    exactly what `gateway eligibility --json` shows as amount_due."""
    world = build(db)
    world.mutual.products[0].registration_fee = 1000
    posting.post(
        db,
        mutual_id=world.mutual.id,
        key="credit-fr",
        kind="payment",
        occurred_on=dt.date(2026, 10, 1),
        lines=[("asset:cash", 2500), (ledger.accounts.household(world.fr.id), -2500)],
    )
    db.flush()
    assert run_reminders(db, WINDOW_OPENS).sent == 2
    expected = coverage(db, world.fr.number, WINDOW_OPENS.date())["amount_due"]
    assert expected == 1000 + 2 * 6000 - 2500
    fr = db.scalars(select(OutboxMessage).where(OutboxMessage.household_id == world.fr.id)).one()
    assert "10 500 FCFA" in fr.text
    en_due = coverage(db, world.en.number, WINDOW_OPENS.date())["amount_due"]
    en = db.scalars(select(OutboxMessage).where(OutboxMessage.household_id == world.en.id)).one()
    assert en_due == 7000 and "7,000 FCFA" in en.text


def test_a_campaign_over_its_budget_does_not_start(db: Session) -> None:
    """Estimate = recipients x messages x segments x price; over the cap: an alert, nothing
    recorded or sent; raising the budget lets it start."""
    world = build(db)
    world.mutual.sms_settings = {"price_per_segment": 25}
    world.campaign.budget = 99  # 2 recipients x 2 rules x 1 segment x 25 = 100
    db.flush()
    run = run_reminders(db, WINDOW_OPENS)
    assert (run.sent, run.over_budget) == (0, 1)
    assert db.scalars(select(ReminderOccurrence)).all() == []
    alert = db.scalars(select(Alert)).one()
    assert alert.kind == "campaign_over_budget" and "100 XOF" in alert.detail
    assert run_reminders(db, WINDOW_OPENS + dt.timedelta(minutes=5)).over_budget == 1
    assert len(db.scalars(select(Alert)).all()) == 1  # alerted once
    world.campaign.budget = 100
    db.flush()
    assert run_reminders(db, WINDOW_OPENS + dt.timedelta(minutes=10)).sent == 2


def test_estimate_command_with_operator_prices(
    db: Session, database_url: str, tmp_path: Path
) -> None:
    """`gateway reminders estimate --mutual CODE --campaign CODE [--json]`."""
    world = build(db, repeat_every_days=30)  # opens: 2/11, 2/12, 1/1, 31/1 -> 4 + closing 1
    world.mutual.sms_settings = {
        "price_per_segment": 25,
        "operators": [{"name": "safaricom", "prefixes": ["+2547000000"], "price_per_segment": 10}],
    }
    world.en.phones[0].msisdn = "+254711000002"
    world.campaign.budget = 200
    db.commit()
    env = {"DATABASE_URL": database_url, "GATEWAY_VAR_DIR": str(tmp_path / "v")}
    args = ["reminders", "estimate", "--mutual", "MUT", "--campaign", "C2027"]
    result = CliRunner().invoke(main, [*args, "--now", WINDOW_OPENS.isoformat(), "--json"], env=env)
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert (found["recipients"], found["messages"], found["segments"]) == (2, 10, 10)
    assert found["by_operator"] == {"safaricom": 50, "default": 125}
    assert (found["cost"], found["budget"], found["within_budget"]) == (175, 200, True)
    text = CliRunner().invoke(main, args, env=env)
    assert text.exit_code == 0 and "cost:" in text.output
    bad = CliRunner().invoke(
        main, ["reminders", "estimate", "--mutual", "X", "--campaign", "Y"], env=env
    )
    assert bad.exit_code != 0 and "no mutual 'X'" in bad.output
