"""Members' phone numbers out of log lines and failed jobs' tracebacks (issue 15, point 7):
text the gateway does not write itself (PostgreSQL's error DETAIL, a job's exception) is
masked like everything else (`+22670****56`)."""

from __future__ import annotations

import logging

import pytest
import redis
from rq import Queue
from rq.job import Job, JobStatus
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.lib.redact import RedactingFormatter, redact
from gateway.models import HouseholdPhone, Mutual
from tests.support.factories import make_household
from worker.rq_workers import SimpleWorker

PHONE = "+22670123456"
MASKED = "+22670****56"


def fail_with_phone() -> None:
    """A job whose exception names a member's phone, as a provider's error body can."""
    raise RuntimeError(f"provider refused {PHONE}: wallet closed")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"Key (household_id, msisdn)=(7, {PHONE}) already exists.", f"=(7, {MASKED})"),
        (f"to={PHONE},+22670999988", f"to={MASKED},+22670****88"),
        ("amount +2500 XOF, ref +1234567", "amount +2500 XOF, ref +1234567"),  # too short
        ("id A+22670123456", "id A+22670123456"),  # inside a word: not a phone on its own
    ],
)
def test_phone_numbers_in_free_text_are_masked(text: str, expected: str) -> None:
    assert expected in redact(text)


def test_a_database_error_logged_with_its_traceback_shows_no_phone(
    db: Session, mutual: Mutual
) -> None:
    """PostgreSQL's DETAIL names the violated key's values; SQLite's message names none, so
    there the masked form is not expected, only the absence of the number."""
    household = make_household(db, mutual, phone=PHONE)
    db.add(HouseholdPhone(household_id=household.id, msisdn=PHONE))
    with pytest.raises(IntegrityError) as raised:
        db.flush()
    exc_info = (raised.type, raised.value, raised.tb)
    record = logging.LogRecord("t", logging.ERROR, __file__, 1, "insert failed", (), exc_info)
    db.rollback()
    line = RedactingFormatter("%(message)s").format(record)
    assert "IntegrityError" in line and PHONE not in line
    if db.get_bind().dialect.name == "postgresql":
        assert MASKED in line


def test_a_failed_job_keeps_its_traceback_without_the_phone(
    redis_client: redis.Redis[bytes],
) -> None:
    queue = Queue("default", connection=redis_client)
    job = queue.enqueue(f"{__name__}.fail_with_phone")
    SimpleWorker([queue], connection=redis_client).work(burst=True)
    job = Job.fetch(job.id, connection=redis_client)
    assert job.get_status() == JobStatus.FAILED
    result = job.latest_result()
    assert result is not None and result.exc_string is not None
    assert MASKED in result.exc_string and PHONE not in result.exc_string
