"""The coverage-start notice (D9, D11 WAITING -> COVERED; D16, D18): one transactional SMS to a
household on the day a beneficiary's cover starts, the day its waiting period ends.

For each mutual, on its local date and inside its sending window (D16), every household with
a spell whose cover starts today gets `coverage_starts` (how many beneficiaries, from when,
until the spell's end). A start day the job could not reach in time (downtime, or the window
closed) is still sent, as `coverage_started`, while its window opening is within the mutual's
`catch_up_hours`; older ones are not sent. It is transactional: households that stopped
reminders get it too (D18). At most once per household and start day: the outbox dedupe key
`cover-starts:<household id>:<start day>` makes a second run, or a concurrent worker, queue
nothing (its unique index decides a race). Candidates come from the allocations
(notices.candidates); only their books are loaded and their real spells decide."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import clock
from gateway.lib import formatting
from gateway.models import Household, HouseholdPhone, Mutual, OutboxMessage
from gateway.services.coverage import (
    HouseholdBook,
    Status,
    beneficiary_spells,
    beneficiary_status,
    load_book,
)
from gateway.services.messaging import in_window, queue_new_sms, window_opens
from gateway.services.notices.candidates import candidates

TODAY, LATE = "coverage_starts", "coverage_started"
CHUNK = 500


@dataclass
class CoverStartsRun:
    """What one run did. sent / sent_late: messages queued (on the day / caught up);
    no_phone: households due one but without a phone (looked at again next run);
    already_sent: found queued by a concurrent run; checked: households whose book was
    loaded; outside_window: mutuals in quiet hours, left for later."""

    sent: int = 0
    sent_late: int = 0
    no_phone: int = 0
    already_sent: int = 0
    checked: int = 0
    outside_window: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class Start:
    """Beneficiaries of one household whose cover starts on `day`, covered until `until`."""

    day: dt.date
    count: int
    until: dt.date


def dedupe_key(household_id: int, day: dt.date) -> str:
    return f"cover-starts:{household_id}:{day.isoformat()}"


def send_cover_starts(session: Session, now: dt.datetime) -> CoverStartsRun:
    """Queue every coverage-start SMS due at `now` (aware); nothing is committed here."""
    if now.tzinfo is None:
        raise ValueError("send_cover_starts needs a timezone-aware datetime")
    now = now.astimezone(dt.UTC)
    run = CoverStartsRun()
    for mutual in session.scalars(select(Mutual).order_by(Mutual.id)).all():
        if not in_window(mutual, now):
            run.outside_window += 1
            continue
        _run_mutual(session, mutual, now, run)
    return run


def due_days(mutual: Mutual, now: dt.datetime) -> list[dt.date]:
    """D16: today (local) once its window has opened, and earlier days whose window opening
    is within `catch_up_hours`, newest first."""
    today = clock.local_date(now, mutual.timezone)
    catch_up = dt.timedelta(hours=mutual.catch_up_hours)
    days = []
    for back in range(mutual.catch_up_hours // 24 + 2):
        day = today - dt.timedelta(days=back)
        opens = window_opens(mutual, day)
        if opens <= now and (day == today or now - opens <= catch_up):
            days.append(day)
    return days


def _run_mutual(session: Session, mutual: Mutual, now: dt.datetime, run: CoverStartsRun) -> None:
    todo = _not_sent(session, candidates(session, mutual, due_days(mutual, now)))
    today = clock.local_date(now, mutual.timezone)
    phones = _phones(session, sorted(todo))
    for household in _households(session, sorted(todo)):
        run.checked += 1
        for start in starts(load_book(session, household), sorted(todo[household.id])):
            phone = phones.get(household.id)
            if phone is None:
                run.no_phone += 1
            elif not _queue(session, mutual, household, phone, start, late=start.day < today):
                run.already_sent += 1
            elif start.day < today:
                run.sent_late += 1
            else:
                run.sent += 1


def starts(book: HouseholdBook, days: Iterable[dt.date]) -> list[Start]:
    """D9/D11: on each day, the beneficiaries covered that day by a spell whose cover starts
    that day (removed or suspended ones are not covered, D11); `until` is the earliest of
    their spells' ends."""
    found = []
    for day in days:
        ends = [
            spell.end
            for beneficiary in book.beneficiaries
            if beneficiary_status(book, beneficiary, day).status == Status.COVERED
            for spell in beneficiary_spells(book, beneficiary, day)
            if spell.covered_from == day
        ]
        if ends:
            found.append(Start(day, len(ends), min(ends)))
    return found


def _queue(
    session: Session, mutual: Mutual, household: Household, phone: str, start: Start, late: bool
) -> bool:
    """Queue the notice; False when a concurrent run queued it first."""
    language = household.language if household.language in mutual.languages else None
    params = {
        "mutual": mutual.sms_name,
        "household": household.number,
        "count": str(start.count),
        "from": formatting.day(start.day),
        "until": formatting.day(start.until),
    }
    message = queue_new_sms(
        session,
        dedupe_key=dedupe_key(household.id, start.day),
        mutual_id=mutual.id,
        household_id=household.id,
        phone=phone,
        template=LATE if late else TODAY,
        language=language or mutual.default_language,
        params=params,
        reason="coverage",
    )
    return message is not None


def _not_sent(session: Session, found: dict[int, set[dt.date]]) -> dict[int, set[dt.date]]:
    """The candidates whose notice is not in the outbox yet (so a rerun loads no book)."""
    keys = {dedupe_key(hid, day): (hid, day) for hid, days in found.items() for day in days}
    names = sorted(keys)
    for i in range(0, len(names), CHUNK):
        query = select(OutboxMessage.dedupe_key).where(
            OutboxMessage.dedupe_key.in_(names[i : i + CHUNK])
        )
        for key in session.scalars(query):
            if key is not None:
                hid, day = keys[key]
                found[hid].discard(day)
    return {hid: days for hid, days in found.items() if days}


def _households(session: Session, ids: Sequence[int]) -> list[Household]:
    found: list[Household] = []
    for i in range(0, len(ids), CHUNK):
        query = select(Household).where(Household.id.in_(ids[i : i + CHUNK]))
        found += session.scalars(query.order_by(Household.id))
    return found


def _phones(session: Session, ids: Sequence[int]) -> dict[int, str]:
    """Household id -> its primary phone, else its first one."""
    found: dict[int, str] = {}
    for i in range(0, len(ids), CHUNK):
        rows = session.execute(
            select(HouseholdPhone.household_id, HouseholdPhone.msisdn)
            .where(HouseholdPhone.household_id.in_(ids[i : i + CHUNK]))
            .order_by(HouseholdPhone.is_primary.desc(), HouseholdPhone.id)
        )
        for household_id, msisdn in rows:
            found.setdefault(household_id, msisdn)
    return found
