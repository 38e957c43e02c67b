"""Batch sending against the local fake Africa's Talking server (messaging.md, "Throughput";
D14-D17): identical texts in one request, each recipient's answer on its own message; 405
pauses the campaign (alert, queued messages wait) until `gateway reminders resume`; the
Redis token bucket holds the provider's rate."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from click.testing import CliRunner
from rq import Queue
from sqlalchemy import Engine, event, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from gateway.cli import main
from gateway.clock import FixedClock
from gateway.models import Alert, Campaign, OutboxMessage
from gateway.providers.africastalking.sms import AfricasTalkingSms
from gateway.services.messaging import batches, outbox
from gateway.services.reminders.due import run_reminders
from gateway.settings import Settings
from tests.support.factories import make_mutual
from tests.support.fake_at import FakeAt, running_fake_at
from tests.support.messaging import different_texts
from tests.support.paths import ROOT
from tests.support.redis_url import redis_url_of
from tests.support.reminders import WINDOW_OPENS, build
from tests.support.source_scan import imports_of, module_name
from worker import jobs, registry
from worker.jobs.messaging import TransientSmsError, deliver, enqueue_batches, send_sms_batch
from worker.rq_workers import SimpleWorker
from worker.throttle import TokenBucket

PHONES = [f"+2267012340{i}" for i in range(5)]


@pytest.fixture
def fake() -> Iterator[tuple[FakeAt, str]]:
    with running_fake_at() as served:
        yield served


@pytest.fixture
def context(
    database_url: str, redis_client: redis.Redis[bytes], tmp_path: Path, fake: tuple[FakeAt, str]
) -> Iterator[jobs.JobContext]:
    settings = Settings.from_env(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url_of(redis_client),
            "GATEWAY_VAR_DIR": str(tmp_path / "var"),
            "GATEWAY_ENV": "test",
            "GATEWAY_SMS_BATCH": "3",
        }
    )
    ctx = jobs.configure(settings, FixedClock(WINDOW_OPENS))
    ctx.sms = AfricasTalkingSms("gw-user", "key", base_url=fake[1], timeout=(2.0, 5.0))
    yield ctx
    ctx.close()


def work(connection: redis.Redis[bytes]) -> None:
    SimpleWorker([Queue(registry.SMS, connection=connection)], connection=connection).work(
        burst=True
    )


def identical(session_factory: sessionmaker[Session], phones: list[str]) -> list[int]:
    """The same text to several phones (an announcement), and one different text."""
    with session_factory.begin() as session:
        mutual = make_mutual(session)
        ids = []
        for phone in [*phones, "+22670999999"]:
            mutual_name = "MS Koudougou" if phone != "+22670999999" else "Autre"
            message = outbox.queue_sms(
                session,
                mutual_id=mutual.id,
                phone=phone,
                template="optout_ack",
                language="fr",
                params={"mutual": mutual_name},
                reason="other",
            )
            session.flush()
            ids.append(message.id)
        return ids


def statuses(session_factory: sessionmaker[Session]) -> dict[str, str]:
    with session_factory() as session:
        rows = session.execute(select(OutboxMessage.phone, OutboxMessage.status))
        return {phone: status for phone, status in rows}


def test_identical_texts_share_a_request_and_each_recipient_gets_its_answer(
    session_factory: sessionmaker[Session],
    redis_client: redis.Redis[bytes],
    context: jobs.JobContext,
    fake: tuple[FakeAt, str],
) -> None:
    """messaging.md: batch sends up to GATEWAY_SMS_BATCH (3 here); AT's per-recipient status
    codes map to each message (101 SENT, 403 REJECTED)."""
    state, _ = fake
    identical(session_factory, PHONES)
    state.codes = {PHONES[1]: 403}
    registry.enqueue(redis_client, "sms-dispatch")
    work(redis_client)
    sizes = sorted(len(r["to"][0].split(",")) for r in state.requests)
    assert sizes == [1, 2, 3]  # 5 identical texts in batches of 3 and 2, the other alone
    found = statuses(session_factory)
    assert found.pop(PHONES[1]) == "REJECTED"
    assert set(found.values()) == {"SENT"}
    with session_factory() as session:
        ids = session.scalars(
            select(OutboxMessage.provider_message_id).where(OutboxMessage.status == "SENT")
        ).all()
        assert len(set(ids)) == 5  # each message its own provider id
    before = len(state.requests)
    registry.enqueue(redis_client, "sms-dispatch", job_id="again")
    work(redis_client)
    assert len(state.requests) == before  # nothing QUEUED: nothing sent twice


def test_a_batch_job_run_twice_sends_nothing_twice(
    session_factory: sessionmaker[Session], context: jobs.JobContext, fake: tuple[FakeAt, str]
) -> None:
    state, _ = fake
    ids = identical(session_factory, PHONES[:2])
    csv = ",".join(str(i) for i in ids)
    assert send_sms_batch(csv) == 3
    assert send_sms_batch(csv) == 0
    assert len(state.requests) == 2
    with pytest.raises(ValueError, match="comma-separated"):
        send_sms_batch("1,x")


def test_a_500_puts_the_batch_back_for_a_retry_with_backoff(
    session_factory: sessionmaker[Session], context: jobs.JobContext, fake: tuple[FakeAt, str]
) -> None:
    """500 (InternalServerError) is transient: the messages wait QUEUED, the job raises so RQ
    retries it (send-sms-batch: 3 retries, 30/120/600 s); the retry sends them."""
    state, _ = fake
    ids = identical(session_factory, PHONES[:2])
    state.codes = dict.fromkeys(PHONES[:2], 500)
    with pytest.raises(TransientSmsError):
        send_sms_batch(",".join(str(i) for i in ids[:2]))
    assert {statuses(session_factory)[p] for p in PHONES[:2]} == {"QUEUED"}
    assert registry.spec("send-sms-batch").intervals == (30, 120, 600)
    state.codes = {}
    assert send_sms_batch(",".join(str(i) for i in ids[:2])) == 2


def test_405_pauses_the_campaign_its_messages_wait_and_resume_sends_them(
    db: Session,
    session_factory: sessionmaker[Session],
    redis_client: redis.Redis[bytes],
    context: jobs.JobContext,
    fake: tuple[FakeAt, str],
    database_url: str,
    tmp_path: Path,
) -> None:
    """messaging.md: 405 (insufficient balance) pauses the campaign and alerts; nothing of
    it is sent or lost until it is resumed; the paused campaign's later reminders wait too."""
    state, _ = fake
    world = build(db, repeat_every_days=1)
    assert run_reminders(db, WINDOW_OPENS).sent == 2
    db.commit()
    state.codes = {"+254700000001": 405, "+254700000002": 405}
    registry.enqueue(redis_client, "sms-dispatch")
    work(redis_client)
    assert len(state.requests) == 2
    db.expire_all()
    campaign = db.get(Campaign, world.campaign.id)
    assert campaign is not None and campaign.paused_at is not None
    assert "insufficient balance" in (campaign.paused_reason or "")
    messages = db.scalars(select(OutboxMessage)).all()
    assert {(m.status, m.attempts) for m in messages} == {("QUEUED", 0)}
    alerts = db.scalars(select(Alert).where(Alert.kind == "campaign_paused")).all()
    assert len(alerts) == 1 and "C2027" in alerts[0].subject
    assert batches.pending_batches(db, 100) == []
    db.rollback()  # end the read: on SQLite it holds the write lock the job needs
    registry.enqueue(redis_client, "sms-dispatch", job_id="later")
    work(redis_client)
    assert len(state.requests) == 2  # held: no new request
    paused = run_reminders(db, WINDOW_OPENS + dt.timedelta(days=1))
    assert (paused.sent, paused.paused) == (0, 1)
    db.commit()

    state.codes = {}
    env = {"DATABASE_URL": database_url, "GATEWAY_VAR_DIR": str(tmp_path / "v")}
    args = ["reminders", "resume", "--mutual", "MUT", "--campaign", "C2027"]
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 0, result.output
    assert "2 queued message(s)" in result.output
    bad = CliRunner().invoke(main, [*args[:4], "--campaign", "NOPE"], env=env)
    assert bad.exit_code != 0 and "no campaign 'NOPE'" in bad.output
    registry.enqueue(redis_client, "sms-dispatch", job_id="resumed")
    work(redis_client)
    assert set(statuses(session_factory).values()) == {"SENT"}
    db.expire_all()
    assert db.scalars(select(Alert.resolved_at)).all()[0] is not None


def test_the_token_bucket_is_atomic_and_shared(redis_client: redis.Redis[bytes]) -> None:
    """Two workers' buckets on one key: together they never exceed the rate."""
    now = [1000.0]
    slept: list[float] = []
    a = TokenBucket(redis_client, "at", 10, clock=lambda: now[0], sleep=slept.append)
    b = TokenBucket(redis_client, "at", 10, clock=lambda: now[0], sleep=slept.append)
    assert a.try_take(6) == 0
    assert b.try_take(4) == 0
    assert a.try_take(5) == pytest.approx(0.5)  # empty: 5 tokens take half a second
    now[0] += 0.5
    assert b.try_take(5) == 0
    assert a.try_take(1) == pytest.approx(0.1)
    with pytest.raises(ValueError):
        TokenBucket(redis_client, "x", 0)


def test_sending_waits_for_the_rate(
    session_factory: sessionmaker[Session],
    context: jobs.JobContext,
    fake: tuple[FakeAt, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """GATEWAY_SMS_RATE=2: 5 messages cannot all leave within the first second."""
    ids = identical(session_factory, PHONES)
    slower = dataclasses.replace(context.settings, sms_rate_per_second=2)
    monkeypatch.setattr(context, "settings", slower)
    started = time.monotonic()
    deliver(jobs.context(), ids[:2])
    deliver(jobs.context(), ids[2:4])
    elapsed = time.monotonic() - started
    assert elapsed >= 0.9  # the second pair waited for the bucket to refill
    assert len(fake[0].requests) == 2


def test_the_sweeper_does_not_enqueue_a_batch_twice_while_it_waits(
    session_factory: sessionmaker[Session],
    redis_client: redis.Redis[bytes],
    context: jobs.JobContext,
) -> None:
    identical(session_factory, PHONES[:2])
    first = enqueue_batches(redis_client)
    assert len(first) == 1
    assert enqueue_batches(redis_client) == []  # the same batch's job still waits
    work(redis_client)
    assert set(statuses(session_factory).values()) == {"SENT"}
    assert enqueue_batches(redis_client) == []


def test_no_web_handler_or_menu_can_reach_the_sms_provider() -> None:
    """messaging.md: sending never blocks the web process; handlers and menus only queue
    (the SMS callbacks' reader, africastalking.sms_callbacks, is not a sender)."""
    senders = ("gateway.providers.sms", "gateway.providers.africastalking.sms")
    root = ROOT / "gateway"
    for layer in ("handlers", "menus"):
        for path in (root / layer).glob("*.py"):
            source = path.read_text(encoding="utf-8")
            imported = imports_of(module_name(path), path)
            reached = [m for m in imported for s in senders if m == s or m.startswith(s + ".")]
            assert reached == [], path
            assert "from worker" not in source and "import worker" not in source, path


@pytest.mark.postgres
def test_a_batch_costs_the_same_statements_whatever_its_size(
    session_factory: sessionmaker[Session],
    engine: Engine,
    context: jobs.JobContext,
    fake: tuple[FakeAt, str],
) -> None:
    """Different texts (one request each): the claim is set-wise, and each request's answers
    are applied in one statement as soon as they arrive (issue 15: nothing lost to a crash
    mid-batch), so a batch costs two statements plus one per provider request."""
    ids = different_texts(session_factory, 12)
    seen: list[str] = []

    def count(_conn: object, _cur: object, statement: str, *_: object) -> None:
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        deliver(context, ids[:2])
        small = len(seen)
        seen.clear()
        done = deliver(context, ids[2:])
        large = len(seen)
    finally:
        event.remove(Engine, "before_cursor_execute", count)
    assert {status for _, status in done.values()} == {"SENT"} and len(done) == 10
    # claim (UPDATE ... RETURNING), sender id, then one UPDATE per request
    assert (small, large) == (2 + 2, 2 + 10), seen
    assert set(statuses(session_factory).values()) == {"SENT"}
    assert len(fake[0].requests) == 12


@pytest.mark.postgres
def test_a_claim_skips_a_message_another_worker_holds_and_never_waits(
    session_factory: sessionmaker[Session], context: jobs.JobContext
) -> None:
    """FOR UPDATE SKIP LOCKED: a row locked elsewhere is left (still QUEUED) for a later
    claim, instead of the claim blocking behind it."""
    ids = identical(session_factory, PHONES[:3])
    now = WINDOW_OPENS
    with session_factory() as holder, session_factory() as claimer:
        holder.execute(select(OutboxMessage.id).where(OutboxMessage.id == ids[0]).with_for_update())
        claimer.execute(text("SET LOCAL lock_timeout = '2s'"))
        claimed = batches.claim_batch(claimer, ids, now)
        claimer.commit()
        assert [m.id for m in claimed] == ids[1:]
        assert all(m.status == "SENDING" and m.attempts == 1 for m in claimed)
        holder.rollback()
        assert [m.id for m in batches.claim_batch(claimer, ids, now)] == ids[:1]
        claimer.commit()
        assert batches.claim_batch(claimer, ids, now) == []  # nothing QUEUED is left


@pytest.mark.postgres
def test_the_claim_finds_its_rows_by_id_even_when_statistics_miss_a_backlog(
    session_factory: sessionmaker[Session], engine: Engine
) -> None:
    """Statistics taken when nothing was queued (the usual case before a campaign) make
    status = 'QUEUED' look rare; the claim must still look its batch up by primary key, not
    walk every QUEUED message through the status index (what made a 100 000-message backlog
    slow: each batch scanned the whole backlog)."""
    with session_factory.begin() as session:
        mutual_id = make_mutual(session).id
        row = {"mutual_id": mutual_id, "template": "t", "language": "fr", "reason": "other"}
        session.execute(
            insert(OutboxMessage),
            [
                {**row, "phone": f"+2267{n:07d}", "text": f"t{n}", "status": "SENT"}
                for n in range(5000)
            ],
        )
    with engine.begin() as conn:
        conn.execute(text("ANALYZE outbox_messages"))
        conn.execute(text("UPDATE outbox_messages SET status = 'QUEUED'"))
    captured: list[tuple[str, Any]] = []

    def capture(_conn: object, _cur: object, statement: str, parameters: Any, *_: object) -> None:
        if statement.lstrip().startswith(("WITH", "UPDATE")):
            captured.append((statement, parameters))

    with session_factory() as session:
        ids = session.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id).limit(100)).all()
        event.listen(Engine, "before_cursor_execute", capture)
        try:
            assert len(batches.claim_batch(session, ids[50:], WINDOW_OPENS)) == 50
        finally:
            event.remove(Engine, "before_cursor_execute", capture)
        statement, parameters = captured[0]
        plan = "\n".join(
            row[0]
            for row in session.connection().exec_driver_sql(f"EXPLAIN {statement}", parameters)
        )
        session.rollback()
    assert "ix_outbox_messages_status" not in plan, plan
    assert "pk_outbox_messages" in plan, plan
