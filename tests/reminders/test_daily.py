"""D15 "a household gets at most one campaign reminder a day", across every campaign and rule
of its mutual: the most specific wins, the others are recorded skipped (never sent later as a
catch-up); a reminder sent earlier that local day blocks the others; the database holds the
rule, so two workers at once cannot both send (D17's machinery)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from gateway.models import (
    Allocation,
    Campaign,
    Mutual,
    OutboxMessage,
    ReminderOccurrence,
    ReminderRule,
)
from gateway.services.coverage.periods import Period, period_row
from gateway.services.reminders import daily
from gateway.services.reminders.due import occurrences, run_reminders
from gateway.services.reminders.record import Due, Occurrence
from gateway.services.reminders.targets import Target, select_targets
from tests.support.reminders import OPENS, WINDOW_OPENS, World, add_campaign, build

DAY = dt.timedelta(days=1)


def sent(db: Session) -> list[tuple[int | None, str, str | None]]:
    rows = db.execute(
        select(
            OutboxMessage.household_id, OutboxMessage.template, OutboxMessage.dedupe_key
        ).order_by(OutboxMessage.household_id, OutboxMessage.id)
    )
    return [(h, t, k) for h, t, k in rows]


def rows_of(db: Session, household_id: int) -> list[tuple[int, str]]:
    found = db.execute(
        select(ReminderOccurrence.campaign_id, ReminderOccurrence.status)
        .where(ReminderOccurrence.household_id == household_id)
        .order_by(ReminderOccurrence.campaign_id, ReminderOccurrence.id)
    )
    return [(c, s) for c, s in found]


def two_campaigns(db: Session) -> tuple[World, Campaign]:
    """The world's campaign made one of every section (opening rule repeated daily), and a
    campaign of section Nord created after it, opening the same day."""
    world = build(db, repeat_every_days=1)
    world.campaign.sections = []
    nord = add_campaign(db, world, "NORD", [("opens", 0, "campaign_reminder")], ["Nord"])
    return world, nord


def test_a_campaign_for_some_sections_beats_one_for_all(db: Session) -> None:
    """D15: fr and en (Nord) get the Nord campaign's reminder and the other campaign's is
    recorded skipped; the household of Sud, outside the Nord campaign, gets the other."""
    world, nord = two_campaigns(db)
    run = run_reminders(db, WINDOW_OPENS)
    assert (run.sent, run.skipped_daily, run.skipped_no_phone) == (3, 2, 2)
    assert [(h, t) for h, t, _ in sent(db)] == [
        (world.fr.id, "campaign_reminder"),
        (world.en.id, "campaign_reminder"),
        (world.other_section.id, "campaign_opening"),
    ]
    assert rows_of(db, world.fr.id) == [(world.campaign.id, "skipped"), (nord.id, "sent")]


def test_a_skipped_reminder_is_never_sent_later_but_the_next_day_gets_one(db: Session) -> None:
    """D15/D16: the skipped reminder is recorded, so no catch-up sends it; the next local
    day the daily repeat is sent, one per household."""
    world, nord = two_campaigns(db)
    run_reminders(db, WINDOW_OPENS)
    later = run_reminders(db, WINDOW_OPENS + dt.timedelta(hours=3))
    assert (later.sent, later.skipped_daily) == (0, 0)
    next_day = run_reminders(db, WINDOW_OPENS + DAY)
    assert (next_day.sent, next_day.skipped_daily) == (3, 0)
    templates = [t for h, t, _ in sent(db) if h == world.fr.id]
    assert templates == ["campaign_reminder", "campaign_opening"]
    assert rows_of(db, world.fr.id) == [
        (world.campaign.id, "skipped"),
        (world.campaign.id, "sent"),
        (nord.id, "sent"),
    ]


def test_coverage_end_beats_closes_beats_opens(db: Session) -> None:
    """D15: three rules of one campaign fall on the opening day: the coverage_end one wins
    where the household has a coverage end, else the closes one."""
    world = build(db)
    world.campaign.reminders[1].offset_days = -90  # 31/01/2027 - 90 = 02/11/2026
    world.campaign.reminders.append(
        ReminderRule(anchor="coverage_end", offset_days=-59, template="coverage_ending")
    )
    db.flush()
    _pay_2026(db, world)  # fr covered to 31/12/2026: 31/12 - 59 = 02/11
    run = run_reminders(db, WINDOW_OPENS)
    assert run.sent == 2
    assert [(h, t) for h, t, _ in sent(db)] == [
        (world.fr.id, "coverage_ending"),
        (world.en.id, "campaign_closing"),
    ]
    assert run.skipped_daily == 3  # fr: opens, closes; en: opens


def _pay_2026(db: Session, world: World) -> None:
    row = period_row(
        db, world.mutual.products[0], Period(dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    )
    for ben in world.fr.beneficiaries:
        db.add(
            Allocation(
                mutual_id=world.mutual.id,
                household_id=world.fr.id,
                beneficiary_id=ben.id,
                period_id=row.id,
                kind="contribution",
                member_amount=6000,
                allocated_on=dt.date(2026, 1, 10),
                ledger_key=f"alloc26:{ben.id}",
            )
        )
    db.flush()


def test_then_the_later_occurrence_the_later_offset_the_lowest_rule_id() -> None:
    """D15's order past sections and anchor, on items built in memory."""
    campaign = Campaign(id=1, sections=[])
    target = Target(7, "1007", "fr", "+254700000007", 6000)
    today = dt.datetime(2026, 11, 2, 5, tzinfo=dt.UTC)

    def item(rule_id: int, offset: int, due_at: dt.datetime = today) -> Due:
        rule = ReminderRule(id=rule_id, anchor="closes", offset_days=offset)
        return Due(target, Occurrence(0, due_at, due_at.date()), campaign, rule)

    yesterday = item(1, -5, today - DAY)
    assert daily.pick([yesterday, item(2, -90)])[0][0].rule.id == 2  # later occurrence
    assert daily.pick([item(3, -90), item(4, -10)])[0][0].rule.id == 4  # later offset
    picks, others = daily.pick([item(6, -10), item(5, -10)])
    assert [p.rule.id for p in picks] == [5] and [o.rule.id for o in others] == [6]


def test_a_reminder_sent_earlier_that_day_blocks_the_others(db: Session) -> None:
    """D15: a campaign created after the morning run: its reminder, due the same local day,
    is recorded skipped for the households already reminded, sent to the others."""
    world = build(db)
    assert run_reminders(db, WINDOW_OPENS).sent == 2
    everyone = add_campaign(db, world, "ALL", [("opens", 0, "campaign_reminder")])
    run = run_reminders(db, WINDOW_OPENS + dt.timedelta(hours=2))
    assert (run.sent, run.skipped_daily) == (1, 2)
    assert rows_of(db, world.fr.id) == [(world.campaign.id, "sent"), (everyone.id, "skipped")]
    assert [h for h, _, _ in sent(db)] == [world.fr.id, world.en.id, world.other_section.id]


def test_the_database_refuses_a_second_sent_row_for_a_household_and_day(db: Session) -> None:
    """The partial unique index (household, sent_on) over 'sent' rows (revision 0014)."""
    world = build(db)
    opening, closing = world.campaign.reminders

    def row(rule: ReminderRule, status: str, day: dt.date = OPENS) -> ReminderOccurrence:
        return ReminderOccurrence(
            household_id=world.fr.id,
            campaign_id=world.campaign.id,
            rule_id=rule.id,
            occurrence=day.toordinal(),
            due_at=WINDOW_OPENS,
            status=status,
            sent_on=day,
        )

    db.add_all([row(opening, "sent"), row(closing, "skipped"), row(closing, "sent", OPENS + DAY)])
    db.flush()
    with db.begin_nested():
        db.add(row(closing, "sent"))
        with pytest.raises(IntegrityError):
            db.flush()


def run_together(*steps: Callable[[], None]) -> None:
    threads = [threading.Thread(target=step) for step in steps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)


@pytest.mark.postgres
def test_two_workers_at_once_send_one_reminder_a_day(
    session_factory: sessionmaker[Session],
) -> None:
    """D15 under a race: two runs at once over two campaigns send each household one."""
    with session_factory.begin() as session:
        two_campaigns(session)
    barrier = threading.Barrier(2)
    results: list[int] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with session_factory.begin() as session:
                barrier.wait(timeout=10)
                results.append(run_reminders(session, WINDOW_OPENS).sent)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    run_together(work, work)
    assert errors == []
    assert sorted(results) == [0, 3]
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 3
        per_household = (
            select(ReminderOccurrence.household_id, func.count())
            .where(ReminderOccurrence.status == "sent")
            .group_by(ReminderOccurrence.household_id)
        )
        assert sorted(n for _, n in session.execute(per_household)) == [1, 1, 1]


def _items(session: Session, rule_index: int) -> tuple[Mutual, list[Due]]:
    """The due items of one rule of the world's campaign at WINDOW_OPENS."""
    campaign = session.scalars(select(Campaign).order_by(Campaign.id)).first()
    assert campaign is not None
    mutual = campaign.mutual
    rule = campaign.reminders[rule_index]
    (occurrence,) = occurrences(mutual, campaign, rule, WINDOW_OPENS)
    targets = select_targets(session, mutual, campaign, OPENS).targets
    return mutual, [Due(t, occurrence, campaign, rule) for t in targets if t.phone]


@pytest.mark.postgres
def test_the_loser_of_a_daily_conflict_between_workers_is_recorded_skipped(
    session_factory: sessionmaker[Session],
) -> None:
    """Two workers that chose different reminders for the same households (say one saw a
    campaign the other did not yet): the first to commit sends, the other's 'sent' rows
    wait on the daily index, then give way and are recorded 'skipped'."""
    with session_factory.begin() as session:
        world = build(session)
        world.campaign.reminders[1].offset_days = -90  # both rules due at WINDOW_OPENS
    inserted = threading.Barrier(2)
    counts: dict[str, daily.DayCounts] = {}
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with session_factory.begin() as session:
                mutual, items = _items(session, 0)
                counts["first"] = daily.record_day(session, mutual, items, OPENS, WINDOW_OPENS)
                inserted.wait(timeout=10)  # the other worker starts while this one holds
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def second() -> None:
        try:
            with session_factory.begin() as session:
                mutual, items = _items(session, 1)
                inserted.wait(timeout=10)
                counts["second"] = daily.record_day(session, mutual, items, OPENS, WINDOW_OPENS)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    run_together(first, second)
    assert errors == []
    assert (counts["first"].sent, counts["first"].skipped_daily) == (2, 0)
    assert (counts["second"].sent, counts["second"].skipped_daily) == (0, 2)
    with session_factory() as session:
        assert [t for _, t, _ in sent(session)] == ["campaign_opening"] * 2
        statuses = session.execute(
            select(ReminderOccurrence.rule_id, ReminderOccurrence.status).order_by(
                ReminderOccurrence.household_id, ReminderOccurrence.rule_id
            )
        ).all()
        opening, closing = world.campaign.reminders[0].id, world.campaign.reminders[1].id
        assert [tuple(s) for s in statuses] == [(opening, "sent"), (closing, "skipped")] * 2
