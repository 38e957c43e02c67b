"""Campaign reminders (D14-D17, messaging.md "Campaign reminders") with a fixed clock: the right
households, days, hours and languages; at most once per occurrence, even from two workers;
catch-up within `catch_up_hours`, missed beyond."""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.cli import main
from gateway.clock import FixedClock
from gateway.models import (
    Allocation,
    OutboxMessage,
    ReminderOccurrence,
)
from gateway.services.coverage.periods import Period, period_row
from gateway.services.reminders.due import run_reminders
from gateway.settings import Settings
from tests.support.reminders import FOR_PERIOD, OPENS, WINDOW_OPENS, build
from worker import jobs
from worker.jobs import reminders


def messages(db: Session) -> list[OutboxMessage]:
    return list(db.scalars(select(OutboxMessage).order_by(OutboxMessage.household_id)))


def test_right_households_hour_and_language(db: Session, clock: FixedClock) -> None:
    """D15 (still owing), D16 (window in the mutual's timezone), D18 (consent), sections."""
    world = build(db)
    clock.at = WINDOW_OPENS - dt.timedelta(days=1)  # the day before the campaign opens
    assert run_reminders(db, clock.now()).sent == 0
    clock.at = WINDOW_OPENS - dt.timedelta(minutes=1)  # 07:59 local
    before = run_reminders(db, clock.now())
    assert (before.sent, before.outside_window) == (0, 0)
    assert messages(db) == []

    clock.at = WINDOW_OPENS  # 08:00 local
    run = run_reminders(db, clock.now())
    assert run.sent == 2
    assert (run.skipped_paid, run.skipped_consent, run.skipped_no_phone) == (1, 1, 1)
    sent = messages(db)
    assert [m.household_id for m in sent] == [world.fr.id, world.en.id]
    fr, en = sent
    assert (fr.language, en.language) == ("fr", "en")
    assert fr.phone == "+254700000001" and fr.reason == "reminder" and fr.status == "QUEUED"
    assert "campagne Campagne 2027" in fr.text and "12 000 FCFA" in fr.text
    assert "campaign Campagne 2027" in en.text and "6,000 FCFA" in en.text
    assert fr.dedupe_key == (
        f"reminder:{world.fr.id}:{world.campaign.id}:{world.campaign.reminders[0].id}:0"
    )
    rows = db.scalars(select(ReminderOccurrence).order_by(ReminderOccurrence.household_id)).all()
    assert [(r.household_id, r.status) for r in rows] == [
        (world.fr.id, "sent"),
        (world.en.id, "sent"),
        (world.no_phone.id, "skipped"),
    ]
    assert rows[0].outbox_id == fr.id and rows[0].due_at == WINDOW_OPENS


def test_quiet_hours_hold_a_due_reminder_until_the_window_opens(db: Session) -> None:
    """D16: a reminder falling due in quiet hours waits for 08:00 local."""
    build(db)
    evening = dt.datetime(2026, 11, 2, 17, 30, tzinfo=dt.UTC)  # 20:30 local, never sent yet
    held = run_reminders(db, evening)
    assert (held.sent, held.outside_window) == (0, 1)
    assert run_reminders(db, WINDOW_OPENS + dt.timedelta(hours=23, minutes=59)).sent == 0
    assert run_reminders(db, WINDOW_OPENS + dt.timedelta(days=1)).sent == 2


def test_the_closing_rule_waits_for_its_day(db: Session) -> None:
    """D15: `closes` with offset -7 is due a week before the campaign closes, not before."""
    build(db)
    assert run_reminders(db, WINDOW_OPENS).sent == 2
    day = dt.datetime(2027, 1, 24, 5, 0, tzinfo=dt.UTC)
    assert run_reminders(db, day - dt.timedelta(days=1)).sent == 0
    assert run_reminders(db, day).sent == 2
    templates = [m.template for m in messages(db)]
    assert sorted(templates) == ["campaign_closing"] * 2 + ["campaign_opening"] * 2


def test_running_twice_sends_nothing_twice(db: Session) -> None:
    """D17: the occurrence row is the record; a second run finds it."""
    build(db)
    assert run_reminders(db, WINDOW_OPENS).sent == 2
    again = run_reminders(db, WINDOW_OPENS + dt.timedelta(minutes=5))
    assert (again.sent, again.missed, again.skipped_no_phone) == (0, 0, 0)
    assert len(messages(db)) == 2


def test_a_30_hour_outage_catches_up(db: Session) -> None:
    """D16: a moment passed during downtime is still sent within catch_up_hours (48)."""
    build(db)
    run = run_reminders(db, WINDOW_OPENS + dt.timedelta(hours=30))  # 14:00 local next day
    assert (run.sent, run.missed) == (2, 0)


def test_a_72_hour_outage_records_missed_once(db: Session) -> None:
    """D16: beyond catch_up_hours nothing is sent; the occurrence is recorded missed, once."""
    build(db)
    run = run_reminders(db, WINDOW_OPENS + dt.timedelta(hours=72))
    assert (run.sent, run.missed) == (0, 3)
    assert messages(db) == []
    statuses = db.scalars(select(ReminderOccurrence.status)).all()
    assert statuses == ["missed"] * 3
    again = run_reminders(db, WINDOW_OPENS + dt.timedelta(hours=73))
    assert (again.sent, again.missed) == (0, 0)


def test_a_repeated_rule_catches_up_with_its_latest_occurrence_only(db: Session) -> None:
    """D15-D17: after downtime only the latest occurrence is sent; older ones within the
    catch-up window are recorded missed, so a member never gets a burst."""
    world = build(db, repeat_every_days=1)
    run = run_reminders(db, WINDOW_OPENS + dt.timedelta(hours=72))
    assert run.sent == 2
    assert len(messages(db)) == 2
    rows = db.execute(
        select(ReminderOccurrence.occurrence, ReminderOccurrence.status)
        .where(ReminderOccurrence.household_id == world.fr.id)
        .order_by(ReminderOccurrence.occurrence)
    ).all()
    assert [tuple(r) for r in rows] == [(1, "missed"), (2, "missed"), (3, "sent")]
    next_day = run_reminders(db, WINDOW_OPENS + dt.timedelta(hours=96))
    assert next_day.sent == 2


def test_a_household_that_paid_gets_no_more_reminders(db: Session) -> None:
    """D15: repeats stop once every active beneficiary is paid for the campaign's period."""
    world = build(db, repeat_every_days=7)
    assert run_reminders(db, WINDOW_OPENS).sent == 2
    row = period_row(db, world.mutual.products[0], Period(FOR_PERIOD, dt.date(2027, 12, 31)))
    db.add(
        Allocation(
            mutual_id=world.mutual.id,
            household_id=world.en.id,
            beneficiary_id=world.en.beneficiaries[0].id,
            period_id=row.id,
            kind="contribution",
            member_amount=6000,
            allocated_on=OPENS,
            ledger_key="alloc:en",
        )
    )
    db.flush()
    run = run_reminders(db, WINDOW_OPENS + dt.timedelta(days=7))
    assert (run.sent, run.skipped_paid) == (1, 2)


@pytest.mark.postgres
def test_two_workers_at_once_send_nothing_twice(
    session_factory: sessionmaker[Session],
) -> None:
    """D17 under a race: the unique key and ON CONFLICT DO NOTHING let one run win."""
    with session_factory.begin() as session:
        build(session)
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

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert sorted(results) == [0, 2]
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 2
        sent = select(func.count()).where(ReminderOccurrence.status == "sent")
        assert session.scalar(sent) == 2


def test_cli_prints_the_counts(db: Session, database_url: str, tmp_path: Path) -> None:
    """`gateway reminders run [--now] [--json]` (interfaces.md)."""
    build(db)
    db.commit()
    env = {
        "DATABASE_URL": database_url,
        "GATEWAY_ENV": "test",
        "GATEWAY_VAR_DIR": str(tmp_path / "var"),
    }
    runner = CliRunner()
    early = runner.invoke(main, ["reminders", "run", "--now", "2026-11-02T20:30:00+03:00"], env=env)
    assert early.exit_code == 0, early.output
    assert "sent: 0" in early.output and "outside window: 1" in early.output
    assert "skipped daily: 0" in early.output  # D15's one a day, counted
    result = runner.invoke(
        main, ["reminders", "run", "--now", "2026-11-02T05:00:00", "--json"], env=env
    )
    assert result.exit_code == 0, result.output
    counts = json.loads(result.output)
    assert counts["sent"] == 2 and counts["skipped_paid"] == 1 and counts["skipped_daily"] == 0
    assert counts["now"] == "2026-11-02T05:00:00+00:00"
    bad = runner.invoke(main, ["reminders", "run", "--now", "tomorrow"], env=env)
    assert bad.exit_code != 0 and "ISO" in bad.output


def test_the_worker_job_runs_at_the_clock_or_the_given_moment(
    db: Session, settings: Settings, clock: FixedClock
) -> None:
    """The periodic run-reminders job (every 300 s) behind the scheduler."""
    build(db)
    db.commit()
    clock.at = dt.datetime(2026, 11, 2, 17, 30, tzinfo=dt.UTC)  # 20:30 local: quiet hours
    context = jobs.configure(settings, clock)
    try:
        assert reminders.run_reminders() == 0  # quiet hours: held (D16)
        assert reminders.run_reminders(WINDOW_OPENS.isoformat()) == 2
        assert reminders.run_reminders("2026-11-02T06:00:00") == 0
    finally:
        context.close()
