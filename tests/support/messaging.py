"""Messaging test helpers: an outbox message the provider already accepted, for the delivery
reports to move on."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import redis
from sqlalchemy.orm import Session, sessionmaker

from gateway.clock import Clock
from gateway.models import Mutual
from gateway.services.messaging import outbox
from gateway.settings import Settings
from tests.support.factories import make_mutual
from tests.support.redis_url import redis_url_of
from worker import jobs

NOW = dt.datetime(2026, 3, 10, 10, 0, tzinfo=dt.UTC)
PHONE = "+22670123412"


def sent_message(db: Session, mutual: Mutual, provider_id: str = "ATXid_out_1") -> int:
    """A message the provider accepted (SENT) under `provider_id`; returns its id."""
    message = outbox.queue_sms(
        db,
        mutual_id=mutual.id,
        phone=PHONE,
        template="help",
        language="fr",
        params={"mutual": "Mutuelle", "contact": "-"},
        reason="other",
    )
    db.flush()
    assert outbox.claim(db, message.id, NOW) is not None
    outbox.record_send(
        db,
        message.id,
        provider="africastalking",
        outcome="accepted",
        now=NOW,
        provider_message_id=provider_id,
    )
    db.commit()
    return message.id


def different_texts(factory: sessionmaker[Session], count: int) -> list[int]:
    """`count` messages of different texts: one provider request each."""
    with factory.begin() as session:
        mutual = make_mutual(session)
        messages = [
            outbox.queue_sms(
                session,
                mutual_id=mutual.id,
                phone=f"+226701{n:05d}",
                template="optout_ack",
                language="fr",
                params={"mutual": f"Mutuelle {n}"},
                reason="other",
            )
            for n in range(count)
        ]
        session.flush()
        return [m.id for m in messages]


def job_context(
    database_url: str, redis_client: redis.Redis[bytes], tmp_path: Path, clock: Clock | None = None
) -> Iterator[jobs.JobContext]:
    """The worker jobs' context on the test's database and Redis, for a fixture to
    `yield from`: closed when the fixture ends."""
    settings = Settings.from_env(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url_of(redis_client),
            "GATEWAY_VAR_DIR": str(tmp_path / "var"),
            "GATEWAY_ENV": "test",
        }
    )
    context = jobs.configure(settings, clock) if clock is not None else jobs.configure(settings)
    yield context
    context.close()
