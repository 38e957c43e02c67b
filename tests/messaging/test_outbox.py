"""The outbox: templates fit one segment, queueing validates and dedupes, the lifecycle only
moves forward, `gateway outbox` lists messages."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, cast

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.cli import main
from gateway.lib import gsm7
from gateway.lib.catalogs import LANGUAGES, placeholders, sms_templates
from gateway.models import Mutual, OutboxMessage, OutboxStatus
from gateway.services.messaging import LONGEST, longest, outbox
from tests.support.factories import make_household

NOW = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)
PHONE = "+22670123456"


def queue(db: Session, mutual: Mutual, **kw: Any) -> OutboxMessage:
    args: dict[str, Any] = {
        "mutual_id": mutual.id,
        "phone": PHONE,
        "template": "optin_ack",
        "language": "fr",
        "params": {"mutual": "MS Koudougou"},
        "reason": "other",
    }
    args.update(kw)
    return outbox.queue_sms(db, **args)


@pytest.mark.parametrize("lang", sorted(LANGUAGES))
@pytest.mark.parametrize("key", outbox.TEMPLATE_KEYS)
def test_every_template_fits_one_segment_with_the_reserve(lang: str, key: str) -> None:
    text = outbox.render_sms(key, lang, longest(lang))
    assert not gsm7.non_gsm(text), text
    assert outbox.room_left(text) >= 0, f"{len(text)} characters: {text!r}"
    assert gsm7.segments(text) == 1


def test_every_language_has_the_standard_templates_with_the_same_placeholders() -> None:
    reference = sms_templates("fr")
    assert set(reference) == set(outbox.TEMPLATE_KEYS)
    for lang in LANGUAGES:
        table = sms_templates(lang)
        assert set(table) == set(reference), lang
        for key, text in table.items():
            assert placeholders(text) == placeholders(reference[key]), (lang, key)
            assert placeholders(text) <= set(longest(lang)), (lang, key)


def test_queue_renders_transliterates_and_stores(db: Session, mutual: Mutual) -> None:
    household = make_household(db, mutual, number="1001")
    db.flush()
    message = queue(
        db,
        mutual,
        template="payment_receipt",
        params={**longest("fr"), "mutual": "Mutuelle Sante"},
        reason="receipt",
        household_id=household.id,
    )
    db.flush()
    assert message.status == "QUEUED"
    assert message.text.startswith("Mutuelle Sante: 9 999 999 FCFA recu, menage ")
    assert (message.template, message.language, message.attempts) == ("payment_receipt", "fr", 0)
    assert outbox.pending_ids(db) == [message.id]


def test_unknown_language_falls_back_to_french(db: Session, mutual: Mutual) -> None:
    assert queue(db, mutual, language="mos").language == "fr"
    assert queue(db, mutual, language="en").text.startswith("MS Koudougou: reminders are back")


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"reason": "spam"}, "reason must be one of"),
        ({"phone": "70123456"}, "E.164"),
        ({"phone": "+226 70 12 34 56"}, "E.164"),
        ({"template": "nope"}, "no SMS template"),
        ({"params": {}}, "needs parameter"),
        ({"params": {"mutual": "M" * 100}}, "over one segment"),
    ],
)
def test_queue_refuses_with_a_reason(
    db: Session, mutual: Mutual, change: dict[str, object], why: str
) -> None:
    with pytest.raises(ValueError, match=why):
        queue(db, mutual, **change)
    assert outbox.pending_ids(db) == []


def test_a_dedupe_key_makes_a_message_at_most_once(db: Session, mutual: Mutual) -> None:
    first = queue(db, mutual, dedupe_key="receipt:42")
    again = queue(db, mutual, dedupe_key="receipt:42", template="help")
    db.flush()
    assert again.id == first.id
    assert len(db.scalars(select(OutboxMessage)).all()) == 1


def test_a_racing_duplicate_hits_the_unique_key_and_returns_the_first(
    db: Session, mutual: Mutual, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = queue(db, mutual, dedupe_key="k1")
    db.flush()
    lookups = iter([None])  # the first lookup misses, as in a concurrent insert
    real = outbox._by_dedupe_key
    monkeypatch.setattr(outbox, "_by_dedupe_key", lambda s, k: next(lookups, None) or real(s, k))
    assert queue(db, mutual, dedupe_key="k1").id == first.id
    assert len(db.scalars(select(OutboxMessage)).all()) == 1


def test_queue_new_sms_says_whether_it_queued_even_when_racing(
    db: Session, mutual: Mutual, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job that counts what it sent: None for a key used already, found by the lookup or
    (a concurrent insert) by the unique index."""
    args = {"mutual_id": mutual.id, "phone": PHONE, "template": "optin_ack", "language": "fr"}
    fields = {**args, "params": {"mutual": "MS"}, "reason": "coverage"}
    first = outbox.queue_new_sms(db, dedupe_key="cover:1", **fields)
    assert first is not None and first.reason == "coverage"
    assert outbox.queue_new_sms(db, dedupe_key="cover:1", **fields) is None
    lookups = iter([None])  # the first lookup misses, as in a concurrent insert
    real = outbox._by_dedupe_key
    monkeypatch.setattr(outbox, "_by_dedupe_key", lambda s, k: next(lookups, None) or real(s, k))
    assert outbox.queue_new_sms(db, dedupe_key="cover:1", **fields) is None
    assert len(db.scalars(select(OutboxMessage)).all()) == 1


FORWARD = [
    ("QUEUED", "SENDING"),
    ("QUEUED", "SKIPPED"),
    ("SENDING", "SENT"),
    ("SENDING", "QUEUED"),  # transient: nothing was accepted, the retry sends it
    ("SENDING", "REJECTED"),
    ("SENT", "DELIVERED"),
    ("SENT", "FAILED"),
    ("SENT", "EXPIRED"),
]
BACKWARD = [
    ("SENT", "SENDING"),
    ("SENT", "QUEUED"),
    ("DELIVERED", "SENT"),
    ("DELIVERED", "FAILED"),
    ("FAILED", "QUEUED"),
    ("REJECTED", "SENT"),
    ("EXPIRED", "DELIVERED"),
    ("SKIPPED", "QUEUED"),
    ("QUEUED", "SENT"),  # never SENT without being claimed
]


@pytest.mark.parametrize(("current", "new"), FORWARD)
def test_allowed_moves(current: str, new: str) -> None:
    message = OutboxMessage(status=current)
    assert outbox.advance(message, OutboxStatus(new), NOW)
    assert message.status == new
    assert not outbox.advance(message, OutboxStatus(new), NOW)  # the same status again: no-op


@pytest.mark.parametrize(("current", "new"), BACKWARD)
def test_status_never_moves_back(current: str, new: str) -> None:
    message = OutboxMessage(status=current)
    with pytest.raises(outbox.InvalidTransition):
        outbox.advance(message, OutboxStatus(new), NOW)
    assert message.status == current


def test_final_statuses_are_final_and_the_table_is_complete() -> None:
    assert set(outbox.TRANSITIONS) == set(OutboxStatus)
    for status in ("DELIVERED", "FAILED", "REJECTED", "EXPIRED", "SKIPPED"):
        assert not outbox.TRANSITIONS[OutboxStatus(status)]
    with pytest.raises(ValueError, match="unknown outbox status"):
        # A status outside the enum, as a caller without type checks could pass one.
        outbox.advance(OutboxMessage(status="QUEUED"), cast("OutboxStatus", "LOST"), NOW)


def test_claim_is_taken_once_and_results_are_recorded(db: Session, mutual: Mutual) -> None:
    message = queue(db, mutual)
    db.flush()
    assert outbox.claim(db, message.id, NOW) is not None
    assert outbox.claim(db, message.id, NOW) is None
    status = outbox.record_send(
        db, message.id, provider="sandbox", outcome="transient", now=NOW, detail="500"
    )
    assert status == "QUEUED"
    assert message.last_error == "transient: 500"
    for _ in range(outbox.MAX_ATTEMPTS - 1):
        assert outbox.claim(db, message.id, NOW) is not None
        db.refresh(message)
        last = outbox.record_send(db, message.id, provider="sandbox", outcome="transient", now=NOW)
    assert (last, message.attempts) == ("FAILED", outbox.MAX_ATTEMPTS)


def test_outbox_command_lists_messages(
    db: Session, mutual: Mutual, database_url: str, tmp_path: Path
) -> None:
    queue(db, mutual)
    queue(db, mutual, phone="+22676000001", template="help", params={**LONGEST}, reason="other")
    db.commit()
    env = {"DATABASE_URL": database_url, "GATEWAY_ENV": "test", "GATEWAY_VAR_DIR": str(tmp_path)}
    result = CliRunner().invoke(main, ["outbox", "--json"], env=env)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["phone"] for r in rows] == ["+22676000001", PHONE]  # newest first
    assert set(rows[0]) == {"id", "phone", "reason", "template", "status", "text", "created_at"}
    assert rows[1]["status"] == "QUEUED"
    assert dt.datetime.fromisoformat(rows[1]["created_at"]).tzinfo is not None
    one = CliRunner().invoke(main, ["outbox", "--phone", PHONE, "--limit", "5", "--json"], env=env)
    assert [r["phone"] for r in json.loads(one.output)] == [PHONE]
    text = CliRunner().invoke(main, ["outbox", "--limit", "1"], env=env)
    assert text.exit_code == 0 and "+22676000001" in text.output and PHONE not in text.output
    bad = CliRunner().invoke(main, ["outbox", "--phone", "abc"], env=env)
    assert bad.exit_code == 2
