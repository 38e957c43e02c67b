"""The coverage-start notice (D9 waiting, D11 WAITING -> COVERED, D16 window and catch-up,
D18 transactional) through the real path: payments -> allocation (D7) -> spells (D9) -> one SMS
per household and start day, with a fixed moment."""

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
from gateway.models import OutboxMessage
from gateway.services.coverage import Status, allocate_due, beneficiary_status, load_book
from gateway.services.notices import send_cover_starts
from gateway.settings import Settings
from tests.support.coverage import pay
from tests.support.factories import add_beneficiary
from tests.support.notices import household, local, nairobi_mutual, outbox
from worker import jobs
from worker.jobs import notices as notice_jobs
from worker.schedule import SCHEDULE

D = dt.date
X = D(2026, 1, 10)  # the D11 example's payment day: covered from X + 60 = 2026-03-11
STARTS = D(2026, 3, 11)


def test_paid_on_x_is_told_on_x_plus_60_once_in_its_language(db: Session) -> None:
    """D9: waiting 60 from the effective date; D11: WAITING until 03-10, COVERED from 03-11;
    the household's language; at most once (dedupe key)."""
    mutual = nairobi_mutual(db)
    fr = household(db, mutual, members=2)
    en = household(db, mutual, phone="+254700000002", number="EN-1")
    en.language = "en"
    pay(db, fr, 12000, X)
    pay(db, en, 6000, X)
    assert beneficiary_status(load_book(db, fr), fr.beneficiaries[0], STARTS).status == "COVERED"
    assert send_cover_starts(db, local(STARTS - dt.timedelta(days=1))).sent == 0
    run = send_cover_starts(db, local(STARTS))
    assert (run.sent, run.sent_late, run.checked) == (2, 0, 2)
    first, second = outbox(db)
    assert (first.household_id, first.language, first.template) == (fr.id, "fr", "coverage_starts")
    assert first.text == (
        f"MS Nairobi: menage {fr.number}: couverture de 2 beneficiaire(s) des aujourd'hui "
        "11/03/2026, jusqu'au 31/12/2026."
    )
    assert (first.phone, first.reason, first.status) == ("+254700000001", "coverage", "QUEUED")
    assert first.dedupe_key == f"cover-starts:{fr.id}:2026-03-11"
    assert (second.household_id, second.language) == (en.id, "en")
    assert second.text == (
        "MS Nairobi: household EN-1: cover of 1 beneficiary(ies) starts today 11/03/2026, "
        "until 31/12/2026."
    )
    again = send_cover_starts(db, local(STARTS, 15))
    assert (again.sent, again.sent_late, again.checked) == (0, 0, 0)  # found sent, no book
    assert send_cover_starts(db, local(STARTS + dt.timedelta(days=1))).sent_late == 0
    assert len(outbox(db)) == 2


def test_a_payment_for_next_year_is_told_when_that_cover_starts(db: Session) -> None:
    """D5/D11: paid 2026-03-01, after the 2026 join window: the money buys 2027, effective
    2027-01-01, WAITING until cover starts on 2027-03-02."""
    mutual = nairobi_mutual(db)
    home = household(db, mutual)
    pay(db, home, 6000, D(2026, 3, 1))
    starts = D(2027, 3, 2)
    head = home.beneficiaries[0]
    waiting = beneficiary_status(load_book(db, home), head, D(2027, 3, 1))
    assert (waiting.status, waiting.from_) == (Status.WAITING, starts)
    for day in (D(2026, 3, 1), D(2026, 4, 30), D(2027, 1, 1), D(2027, 3, 1)):
        assert send_cover_starts(db, local(day)).sent == 0, day
    assert send_cover_starts(db, local(starts)).sent == 1
    (message,) = outbox(db)
    assert "des aujourd'hui 02/03/2027, jusqu'au 31/12/2027." in message.text


def test_a_renewal_without_a_lapse_is_told_nothing(db: Session) -> None:
    """D9: within a spell there is no new waiting, so no new start: neither a renewal paid in
    advance (effective 2027-01-01) nor one paid in grace (2028, effective 2028-01-20) sends
    anything, and the candidate search already leaves them out (no book loaded)."""
    mutual = nairobi_mutual(db)
    home = household(db, mutual)
    pay(db, home, 6000, X)
    assert send_cover_starts(db, local(STARTS)).sent == 1
    pay(db, home, 6000, D(2026, 12, 15))
    pay(db, home, 6000, D(2028, 1, 20))
    for day in (D(2027, 1, 1), D(2027, 3, 2), D(2028, 1, 20), D(2028, 3, 20)):
        run = send_cover_starts(db, local(day))
        assert (run.sent, run.sent_late, run.checked) == (0, 0, 0), day
    assert len(outbox(db)) == 1


def test_a_renewal_after_a_lapse_waits_again_and_is_told(db: Session) -> None:
    """D9: a 60-day gap > grace 30 starts a new spell; cover starts again on 2027-04-30."""
    mutual = nairobi_mutual(db, join_window_days=90)
    home = household(db, mutual)
    pay(db, home, 6000, X)
    pay(db, home, 6000, D(2027, 3, 1))
    assert send_cover_starts(db, local(D(2027, 4, 29))).sent == 0
    assert send_cover_starts(db, local(D(2027, 4, 30))).sent == 1
    assert "30/04/2027, jusqu'au 31/12/2027" in outbox(db)[0].text


def test_a_household_that_stopped_reminders_still_gets_it(db: Session) -> None:
    """D18: coverage confirmations are transactional."""
    mutual = nairobi_mutual(db)
    home = household(db, mutual)
    home.reminders_enabled = False
    pay(db, home, 6000, X)
    assert send_cover_starts(db, local(STARTS)).sent == 1
    assert outbox(db)[0].household_id == home.id


def test_quiet_hours_hold_it_until_the_window_opens(db: Session) -> None:
    """D16: 08:00-20:00 in the mutual's timezone (Nairobi, UTC+3), on its local date."""
    mutual = nairobi_mutual(db)
    home = household(db, mutual)
    pay(db, home, 6000, X)
    # 2026-03-11 00:30 local is still 03-10 in UTC: the local day counts, but it is night.
    night = send_cover_starts(db, local(STARTS, 0, 30))
    assert (night.sent, night.outside_window) == (0, 1)
    assert send_cover_starts(db, local(STARTS, 7, 59)).sent == 0
    opened = send_cover_starts(db, local(STARTS, 8, 0))
    assert (opened.sent, opened.outside_window) == (1, 0)
    assert outbox(db)[0].template == "coverage_starts"


@pytest.mark.parametrize("days_late", [1, 2])
def test_after_downtime_it_is_sent_late_within_catch_up_hours(db: Session, days_late: int) -> None:
    """D16: a start day whose window opened at most catch_up_hours (48) ago is sent late, with
    the past-tense template: the evening of the start day (window closed) is caught up the
    next morning, and 48 h after the window opened is still in time."""
    mutual = nairobi_mutual(db)
    home = household(db, mutual)
    pay(db, home, 6000, X)
    assert send_cover_starts(db, local(STARTS, 20, 30)).outside_window == 1
    run = send_cover_starts(db, local(STARTS + dt.timedelta(days=days_late), 8))
    assert (run.sent, run.sent_late) == (0, 1)
    (message,) = outbox(db)
    assert message.template == "coverage_started"
    assert message.text == (
        f"MS Nairobi: menage {home.number}: la couverture de 1 beneficiaire(s) a commence "
        "le 11/03/2026, jusqu'au 31/12/2026."
    )


def test_beyond_catch_up_hours_it_is_not_sent(db: Session) -> None:
    """D16: older than catch_up_hours: never sent, and the search does not even look."""
    mutual = nairobi_mutual(db)
    home = household(db, mutual)
    pay(db, home, 6000, X)
    run = send_cover_starts(db, local(STARTS + dt.timedelta(days=2), 8, 1))  # 48 h 01 min
    assert (run.sent, run.sent_late, run.checked) == (0, 0, 0)
    mutual.catch_up_hours = 72
    assert send_cover_starts(db, local(STARTS + dt.timedelta(days=2), 8, 1)).sent_late == 1
    assert outbox(db)[0].household_id == home.id


def test_when_only_some_beneficiaries_start_it_says_how_many(db: Session) -> None:
    """D5/D9: a dependant added in June and paid on 06-05 waits until 08-04; the others are
    covered since March: the notice counts 1 beneficiary."""
    mutual = nairobi_mutual(db)
    home = household(db, mutual, members=2)
    pay(db, home, 12000, X)
    assert send_cover_starts(db, local(STARTS)).sent == 1
    child = add_beneficiary(db, home, enrolled_on=D(2026, 6, 1))
    pay(db, home, 6000, D(2026, 6, 5))
    starts = beneficiary_status(load_book(db, home), child, D(2026, 7, 1)).from_
    assert starts == D(2026, 8, 4)
    assert send_cover_starts(db, local(starts)).sent == 1
    assert "couverture de 1 beneficiaire(s) des aujourd'hui 04/08/2026" in outbox(db)[1].text


def test_fully_subsidised_households_are_told_too(db: Session) -> None:
    """D3: the daily job allocates an indigent household's periods on their first day, so
    cover starts on 2026-01-01 + 60 = 2026-03-02."""
    mutual = nairobi_mutual(db, subsidies=[("indigent", 0, "MASSN")])
    home = household(db, mutual, members=3, category="indigent")
    assert allocate_due(db, on=D(2026, 1, 1)) == 3
    assert send_cover_starts(db, local(D(2026, 3, 1))).sent == 0
    assert send_cover_starts(db, local(D(2026, 3, 2))).sent == 1
    assert "couverture de 3 beneficiaire(s) des aujourd'hui 02/03/2026" in outbox(db)[0].text
    assert outbox(db)[0].household_id == home.id


def test_an_exempt_newborn_is_told_on_the_payment_day(db: Session) -> None:
    """D9: newborn_waiting = false, mother covered: the baby is covered from the effective
    date itself."""
    mutual = nairobi_mutual(db, newborn_waiting=False)
    home = household(db, mutual)
    add_beneficiary(db, home, enrolled_on=D(2025, 12, 1), relation="spouse")
    pay(db, home, 12000, D(2026, 1, 5))
    assert send_cover_starts(db, local(D(2026, 3, 6))).sent == 1
    add_beneficiary(db, home, enrolled_on=D(2026, 4, 15), birth_date=D(2026, 4, 1))
    pay(db, home, 6000, D(2026, 4, 16))
    assert send_cover_starts(db, local(D(2026, 4, 16))).sent == 1
    assert "1 beneficiaire(s) des aujourd'hui 16/04/2026" in outbox(db)[1].text


def test_no_phone_sends_nothing_and_is_counted(db: Session) -> None:
    mutual = nairobi_mutual(db)
    home = household(db, mutual, phone=None)
    pay(db, home, 6000, X)
    run = send_cover_starts(db, local(STARTS))
    assert (run.sent, run.no_phone, run.checked) == (0, 1, 1)
    assert outbox(db) == []


def test_a_naive_moment_is_refused(db: Session) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        send_cover_starts(db, dt.datetime.fromisoformat("2026-03-11T09:00"))


@pytest.mark.postgres
def test_two_workers_at_once_send_nothing_twice(session_factory: sessionmaker[Session]) -> None:
    """At most once under a race: both runs find the same households; the outbox's unique
    dedupe key lets one insert win, the other counts it as already sent."""
    with session_factory.begin() as session:
        mutual = nairobi_mutual(session)
        for n in range(5):
            pay(session, household(session, mutual, phone=f"+25470000001{n}"), 6000, X)
    barrier = threading.Barrier(2)
    results: list[tuple[int, int]] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with session_factory.begin() as session:
                barrier.wait(timeout=10)
                run = send_cover_starts(session, local(STARTS))
                results.append((run.sent, run.already_sent))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert sorted(sent for sent, _ in results) == [0, 5]
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 5


def test_cli_prints_the_counts(db: Session, database_url: str, tmp_path: Path) -> None:
    """`gateway notices run [--now ISO-DATETIME] [--json]`."""
    mutual = nairobi_mutual(db)
    pay(db, household(db, mutual), 6000, X)
    db.commit()
    env = {
        "DATABASE_URL": database_url,
        "GATEWAY_ENV": "test",
        "GATEWAY_VAR_DIR": str(tmp_path / "var"),
    }
    runner = CliRunner()
    night = runner.invoke(main, ["notices", "run", "--now", "2026-03-11T21:00:00+03:00"], env=env)
    assert night.exit_code == 0, night.output
    assert "sent: 0" in night.output and "outside window: 1" in night.output
    result = runner.invoke(
        main, ["notices", "run", "--now", "2026-03-11T06:00:00", "--json"], env=env
    )
    assert result.exit_code == 0, result.output
    counts = json.loads(result.output)
    assert (counts["sent"], counts["checked"], counts["now"]) == (1, 1, "2026-03-11T06:00:00+00:00")
    bad = runner.invoke(main, ["notices", "run", "--now", "tomorrow"], env=env)
    assert bad.exit_code != 0 and "ISO" in bad.output


def test_the_hourly_job_runs_at_the_clock_or_the_given_moment(
    db: Session, settings: Settings, clock: FixedClock
) -> None:
    """The coverage-starts job, scheduled every hour."""
    assert any(p.job == "coverage-starts" and p.every_s == 3600 for p in SCHEDULE)
    mutual = nairobi_mutual(db)
    pay(db, household(db, mutual), 6000, X)
    db.commit()
    clock.at = local(STARTS, 5)  # quiet hours
    context = jobs.configure(settings, clock)
    try:
        assert notice_jobs.coverage_starts() == 0
        assert notice_jobs.coverage_starts(local(STARTS, 8).isoformat()) == 1
        assert notice_jobs.coverage_starts("2026-03-11T06:00:00") == 0
    finally:
        context.close()
