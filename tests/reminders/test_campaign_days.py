"""Which days a campaign's reminders fall on and to whom (D15, D16): an `opens` rule with a
negative offset announces the campaign before it opens, a `closes` rule may fall before the
opening too, repeats stop at the closing day; only households on the campaign's product are
targeted; a closing-day reminder missed while the system was down is recorded missed, and
nothing is ever sent for a campaign that has closed."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import OutboxMessage, Product, ReminderOccurrence
from gateway.services.reminders.due import occurrences, run_reminders
from tests.support.reminders import OPENS, WINDOW_OPENS, World, build

DAY = dt.timedelta(days=1)
CLOSES = dt.date(2027, 1, 31)


def at(day: dt.date, hour: int = 8) -> dt.datetime:
    """`hour`:00 in Nairobi (UTC+3) on that day, in UTC."""
    return dt.datetime.combine(day, dt.time(hour - 3, 0), tzinfo=dt.UTC)


def sent(db: Session) -> list[tuple[int | None, str]]:
    rows = db.execute(
        select(OutboxMessage.household_id, OutboxMessage.template).order_by(OutboxMessage.id)
    )
    return [(household, template) for household, template in rows]


def statuses(db: Session, world: World) -> list[tuple[int, str]]:
    rows = db.execute(
        select(ReminderOccurrence.rule_id, ReminderOccurrence.status)
        .where(ReminderOccurrence.household_id == world.fr.id)
        .order_by(ReminderOccurrence.id)
    )
    return [(rule, status) for rule, status in rows]


def test_an_opens_rule_with_a_negative_offset_announces_the_campaign_before_it_opens(
    db: Session,
) -> None:
    """D15: `opens` -7 is sent a week before the opening day, once, not earlier."""
    world = build(db)
    opening = world.campaign.reminders[0]
    opening.offset_days = -7
    db.flush()
    assert run_reminders(db, at(OPENS - 8 * DAY)).sent == 0
    run = run_reminders(db, at(OPENS - 7 * DAY))
    assert run.sent == 2
    assert sent(db) == [(world.fr.id, "campaign_opening"), (world.en.id, "campaign_opening")]
    assert run_reminders(db, at(OPENS - 7 * DAY, hour=15)).sent == 0
    assert run_reminders(db, at(OPENS)).sent == 0
    assert statuses(db, world) == [(opening.id, "sent")]


def test_a_closes_rule_falling_before_the_opening_is_sent_on_its_day(db: Session) -> None:
    """D15: `closes` -100 falls on 23/10/2026, ten days before the opening."""
    world = build(db)
    world.campaign.reminders[0].offset_days = 10  # the opening rule: 12/11, out of the way
    world.campaign.reminders[1].offset_days = -100
    db.flush()
    assert run_reminders(db, at(dt.date(2026, 10, 22))).sent == 0
    assert run_reminders(db, at(dt.date(2026, 10, 23))).sent == 2
    assert [t for _, t in sent(db)] == ["campaign_closing"] * 2


def test_repeats_before_the_opening_still_stop_at_the_closing_day(db: Session) -> None:
    """D15: `opens` -7 every 30 days: 26/10, 25/11, 25/12, 24/01; never after 31/01."""
    world = build(db)
    rule = world.campaign.reminders[0]
    rule.offset_days, rule.repeat_every_days = -7, 30
    db.flush()
    found = occurrences(world.mutual, world.campaign, rule, at(dt.date(2027, 6, 1)))
    assert [o.day for o in found] == [
        dt.date(2026, 10, 26),
        dt.date(2026, 11, 25),
        dt.date(2026, 12, 25),
        dt.date(2027, 1, 24),
    ]
    assert [o.index for o in found] == [0, 1, 2, 3]


def test_households_on_another_product_are_not_targeted(db: Session) -> None:
    """D15: the campaign collects for its product's period; a household on another product
    of the same mutual (and section) gets none of its reminders, nor is it counted."""
    world = build(db)
    other = Product(
        mutual=world.mutual,
        code="PLUS",
        name="Garantie plus",
        period="year",
        contribution=9000,
        registration_fee=0,
        waiting_days=60,
        grace_days=30,
        join_window_days=30,
        coverage_start="01-01",
    )
    db.add(other)
    db.flush()
    world.en.product_id = other.id
    db.flush()
    run = run_reminders(db, WINDOW_OPENS)
    assert run.sent == 1
    assert sent(db) == [(world.fr.id, "campaign_opening")]
    assert (run.skipped_paid, run.skipped_consent, run.skipped_no_phone) == (1, 1, 1)
    targeted = db.scalars(select(ReminderOccurrence.household_id)).all()
    assert world.en.id not in targeted


def closing_day_world(db: Session) -> World:
    """The world with its closing rule moved to the closing day (31/01/2027)."""
    world = build(db)
    world.campaign.reminders[1].offset_days = 0
    db.flush()
    assert run_reminders(db, WINDOW_OPENS).sent == 2  # the opening reminders
    return world


def test_a_closing_day_reminder_missed_while_down_is_recorded_missed(db: Session) -> None:
    """D16: down from before 08:00 on the closing day until the next morning, within
    catch_up_hours: the campaign has closed, so nothing is sent, but the occurrence is
    recorded missed (once), not lost."""
    world = closing_day_world(db)
    closing = world.campaign.reminders[1]
    run = run_reminders(db, at(CLOSES + DAY, hour=9))
    assert (run.sent, run.missed) == (0, 3)  # fr, en and the household without a phone
    assert [t for _, t in sent(db)] == ["campaign_opening"] * 2
    assert statuses(db, world)[-1] == (closing.id, "missed")
    assert run_reminders(db, at(CLOSES + DAY, hour=10)).missed == 0


def test_after_closing_the_miss_is_recorded_even_in_quiet_hours(db: Session) -> None:
    """D16: nothing is sent once closed, so the quiet hours do not hold the record back."""
    world = closing_day_world(db)
    night = at(CLOSES + DAY, hour=23)
    run = run_reminders(db, night)
    assert (run.sent, run.missed, run.outside_window) == (0, 3, 0)
    assert statuses(db, world)[-1] == (world.campaign.reminders[1].id, "missed")


def test_the_closing_day_reminder_is_still_sent_on_the_closing_day(db: Session) -> None:
    """D16: late but on the closing day itself (19:00), the campaign is open: sent."""
    closing_day_world(db)
    assert run_reminders(db, at(CLOSES, hour=19)).sent == 2


def test_a_campaign_closed_long_ago_is_left_alone(db: Session) -> None:
    """Past catch_up_hours plus a day after closing, the campaign is not looked at: the
    gateway does not rebuild a long-closed campaign's history."""
    closing_day_world(db)
    run = run_reminders(db, at(CLOSES + 4 * DAY))
    assert (run.sent, run.missed, run.skipped_paid) == (0, 0, 0)
