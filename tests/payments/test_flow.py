"""Payment intents through their state machine (payments.md): forward only, exactly-once effect,
suspense for unknown or different amounts, late success, sweeper expiry and escalation."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.models import (
    Alert,
    Household,
    IntentState,
    LedgerTransaction,
    Mutual,
    OutboxMessage,
    Payment,
    PaymentIntent,
    SuspenseItem,
)
from gateway.services.ledger import posting
from gateway.services.payments import (
    CallbackEvent,
    CallbackRequest,
    InitiateResult,
    Initiation,
    ProviderState,
    StatusResult,
    events,
    flow,
    lifecycle,
    sweeps,
)
from gateway.services.payments.intents import (
    AmountRefused,
    channel_for,
    create_intent,
    parse_amount,
    payment_request,
)
from gateway.services.payments.lifecycle import (
    POLL_DELAYS_S,
    UNKNOWN_FIRST_POLL_S,
    can_move,
    schedule_poll,
)
from tests.support.factories import make_household

NOW = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)
PHONE = "+22670123456"
DUE = 12_000  # two beneficiaries x 6 000 for 2027 (the 2026 join window is closed, D5)


@pytest.fixture
def household(db: Session, mutual: Mutual) -> Household:
    return make_household(db, mutual, members=2, phone=PHONE)


def intent_for(db: Session, household: Household, amount: int = DUE) -> PaymentIntent:
    intent = create_intent(db, household=household, amount=amount, msisdn=PHONE, now=NOW)
    db.flush()
    return intent


def succeeded(amount: int = DUE, txn: str = "TXN-1") -> StatusResult:
    return StatusResult(ProviderState.SUCCEEDED, amount=amount, currency="XOF", provider_txn_id=txn)


def count(db: Session, model: type) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


@pytest.mark.parametrize(
    "text", ["100.5", "1e3", "-500", "", " ", "12a", "99", "2000001", "9" * 13]
)
def test_amounts_are_whole_francs_within_limits(text: str) -> None:
    with pytest.raises(AmountRefused):
        parse_amount(text)


def test_amount_digits_are_taken_as_is() -> None:
    assert parse_amount(" 12000 ") == 12000


def test_states_only_move_forward() -> None:
    s = IntentState
    assert can_move(s.CREATED, s.PENDING) and can_move(s.UNKNOWN, s.PENDING)
    assert can_move(s.FAILED, s.SUCCEEDED) and can_move(s.EXPIRED, s.SUCCEEDED)
    assert not can_move(s.SUCCEEDED, s.FAILED) and not can_move(s.PENDING, s.UNKNOWN)
    assert not can_move(s.FAILED, s.EXPIRED) and not can_move(s.PENDING, s.CREATED)


def test_same_origin_gives_the_same_intent(db: Session, household: Household) -> None:
    first = create_intent(
        db, household=household, amount=DUE, msisdn=PHONE, now=NOW, origin_key="ussd:s1"
    )
    again = create_intent(
        db, household=household, amount=DUE, msisdn=PHONE, now=NOW, origin_key="ussd:s1"
    )
    assert first.id == again.id and count(db, PaymentIntent) == 1
    assert first.state == "CREATED" and len(first.reference) == 36


def test_initiation_is_counted_before_the_call_and_never_repeated(
    db: Session, household: Household
) -> None:
    intent = intent_for(db, household)
    assert flow.start_initiation(db, intent.id, NOW) is intent
    assert intent.initiate_attempts == 1
    # The worker died after the call: the retry must not send a second request.
    assert flow.start_initiation(db, intent.id, NOW) is None
    assert intent.state == "UNKNOWN" and intent.next_poll_at is not None
    assert intent.initiate_attempts == 1


def test_accepted_initiation_is_pending_with_a_poll(db: Session, household: Household) -> None:
    intent = intent_for(db, household)
    flow.start_initiation(db, intent.id, NOW)
    flow.record_initiation(db, intent.id, InitiateResult(Initiation.ACCEPTED, "P-1"), NOW)
    assert intent.state == "PENDING" and intent.provider_txn_id == "P-1"
    assert intent.next_poll_at == NOW + dt.timedelta(seconds=30)
    assert sweeps.due_polls(db, NOW) == []
    assert sweeps.due_polls(db, NOW + dt.timedelta(seconds=30)) == [intent.id]


def test_rejected_initiation_fails_and_tells_the_member(db: Session, household: Household) -> None:
    intent = intent_for(db, household)
    result = InitiateResult(Initiation.REJECTED, reason="invalid wallet")
    flow.record_initiation(db, intent.id, result, NOW)
    assert (intent.state, intent.reason) == ("FAILED", "invalid wallet")
    message = db.scalars(select(OutboxMessage)).one()
    assert message.template == "payment_failed" and message.phone == PHONE


def test_success_credits_allocates_and_sends_one_receipt(
    db: Session, mutual: Mutual, household: Household
) -> None:
    intent = intent_for(db, household)
    assert flow.apply_status(db, intent.id, succeeded(), NOW) == "applied"
    assert flow.apply_status(db, intent.id, succeeded(), NOW) == "duplicate"
    assert intent.state == "SUCCEEDED" and intent.payment_id is not None
    payment = db.get_one(Payment, intent.payment_id)
    assert (payment.amount, payment.channel) == (DUE, "mobile")
    assert posting.balance(db, mutual.id, "asset:float:sandbox") == DUE
    assert posting.household_credit(db, mutual.id, household.id) == 0  # all allocated (D7)
    receipts = db.scalars(select(OutboxMessage)).all()
    assert [m.template for m in receipts] == ["payment_receipt"]
    assert household.number in receipts[0].text


def test_partial_payment_receipt_says_what_is_still_due(db: Session, household: Household) -> None:
    intent = intent_for(db, household, amount=5_000)
    flow.apply_status(db, intent.id, succeeded(amount=5_000), NOW)
    message = db.scalars(select(OutboxMessage)).one()
    assert message.template == "payment_partial"
    assert "7 000" in message.text  # 12 000 due minus 5 000 of credit (D6)


def test_mobile_money_far_above_the_dues_is_held_and_the_receipt_says_so(
    db: Session, mutual: Mutual, household: Household
) -> None:
    """Two members at 6 000 a year, limit 5 years (60 000): 100 000 confirmed by the provider
    is recorded and held for an operator; the receipt promises no cover."""
    intent = intent_for(db, household, amount=100_000)
    flow.apply_status(db, intent.id, succeeded(amount=100_000), NOW)
    payment = db.get_one(Payment, intent.payment_id)
    assert payment.held
    assert posting.household_credit(db, mutual.id, household.id) == 0
    message = db.scalars(select(OutboxMessage)).one()
    assert message.template == "payment_receipt"
    assert "Montant en verification a la mutuelle" in message.text


def test_failure_after_success_changes_nothing(db: Session, household: Household) -> None:
    intent = intent_for(db, household)
    flow.apply_status(db, intent.id, succeeded(), NOW)
    failed = StatusResult(ProviderState.FAILED, reason="timeout")
    assert flow.apply_status(db, intent.id, failed, NOW) == "stale"
    assert intent.state == "SUCCEEDED" and count(db, Payment) == 1


def test_late_success_after_expiry_is_allocated_and_flagged(
    db: Session, household: Household
) -> None:
    intent = intent_for(db, household)
    later = intent.expires_at + dt.timedelta(minutes=1)
    pending = StatusResult(ProviderState.PENDING)
    flow.apply_status(db, intent.id, pending, later)
    assert intent.state == "EXPIRED"
    assert flow.apply_status(db, intent.id, succeeded(), later) == "applied"
    assert (intent.state, intent.flag) == ("SUCCEEDED", "late")
    assert db.scalars(select(Alert.kind)).all() == ["payment_late"]
    templates = db.scalars(select(OutboxMessage.template).order_by(OutboxMessage.id)).all()
    assert templates == ["payment_failed", "payment_receipt"]


def test_amount_mismatch_goes_to_suspense_not_to_the_household(
    db: Session, mutual: Mutual, household: Household
) -> None:
    intent = intent_for(db, household)
    assert flow.apply_status(db, intent.id, succeeded(amount=1_200), NOW) == "mismatch"
    assert (intent.state, intent.flag, intent.payment_id) == ("SUCCEEDED", "amount_mismatch", None)
    item = db.scalars(select(SuspenseItem)).one()
    assert (item.amount, item.reason, item.household_id) == (1_200, "amount_mismatch", household.id)
    assert posting.balance(db, mutual.id, "liab:suspense:sandbox") == -1_200
    assert posting.household_credit(db, mutual.id, household.id) == 0
    assert count(db, Payment) == 0


def event(
    key: str,
    state: ProviderState,
    reference: str | None,
    verified: bool = True,
    amount: int = DUE,
) -> CallbackEvent:
    return CallbackEvent(
        event_key=key,
        reference=reference,
        provider_txn_id=f"T-{key}",
        state=state,
        amount=amount,
        currency="XOF",
        msisdn=PHONE,
        verified=verified,
        needs_confirmation=not verified,
    )


def raw() -> CallbackRequest:
    return CallbackRequest("POST", {}, {}, {}, b'{"status": "SUCCESSFUL"}')


def test_unknown_reference_goes_to_suspense_without_a_mutual(db: Session) -> None:
    callback = events.store_callback(db, "sandbox", raw(), NOW)
    stored, created = events.record_event(
        db, "sandbox", event("e1", ProviderState.SUCCEEDED, "nope"), callback.id, NOW
    )
    assert created and flow.apply_event(db, stored.id, None, NOW) == "suspense"
    item = db.scalars(select(SuspenseItem)).one()
    assert (item.mutual_id, item.ledger_key, item.reason) == (None, None, "unknown_reference")
    assert count(db, LedgerTransaction) == 0


def test_redelivered_event_is_recorded_and_applied_once(db: Session, household: Household) -> None:
    intent = intent_for(db, household)
    claim = event("e1", ProviderState.SUCCEEDED, intent.reference)
    first, created = events.record_event(db, "sandbox", claim, None, NOW)
    again, created_again = events.record_event(db, "sandbox", claim, None, NOW)
    assert created and not created_again and first.id == again.id
    assert flow.apply_event(db, first.id, None, NOW) == "applied"
    assert flow.apply_event(db, first.id, None, NOW) == "duplicate"
    assert count(db, Payment) == 1 and count(db, OutboxMessage) == 1


def test_unsigned_claim_moves_no_money_until_the_status_confirms_it(
    db: Session, household: Household
) -> None:
    intent = intent_for(db, household)
    claim = event("e1", ProviderState.SUCCEEDED, intent.reference, verified=False)
    stored, _ = events.record_event(db, "sandbox", claim, None, NOW)
    assert flow.apply_event(db, stored.id, None, NOW) == "unconfirmed"
    assert count(db, Payment) == 0
    still_pending = StatusResult(ProviderState.PENDING)
    assert flow.apply_event(db, stored.id, still_pending, NOW) == "disagrees"
    assert count(db, Payment) == 0 and intent.state == "PENDING"


def test_forged_success_is_overruled_by_the_status_api(db: Session, household: Household) -> None:
    intent = intent_for(db, household)
    claim = event("e1", ProviderState.SUCCEEDED, intent.reference, verified=False)
    stored, _ = events.record_event(db, "sandbox", claim, None, NOW)
    truth = StatusResult(ProviderState.FAILED, reason="not paid")
    assert flow.apply_event(db, stored.id, truth, NOW) == "disagrees"
    assert intent.state == "FAILED" and count(db, Payment) == 0
    assert count(db, LedgerTransaction) == 0


def test_one_transaction_cannot_pay_two_intents(db: Session, household: Household) -> None:
    first, second = intent_for(db, household), intent_for(db, household)
    flow.apply_status(db, first.id, succeeded(txn="SAME"), NOW)
    assert flow.apply_status(db, second.id, succeeded(txn="SAME"), NOW) == "conflict"
    assert second.state == "CREATED" and count(db, Payment) == 1
    assert db.scalars(select(Alert.kind)).all() == ["payment_conflict"]


def test_unanswered_polls_expire_and_escalate(db: Session, household: Household) -> None:
    intent = intent_for(db, household)
    flow.record_initiation(db, intent.id, InitiateResult(Initiation.UNKNOWN), NOW)
    when = NOW
    for _ in range(lifecycle.ESCALATE_AFTER_POLLS):
        assert intent.state == "UNKNOWN"
        when = max(when, intent.expires_at) + dt.timedelta(minutes=1)
        sweeps.poll_failed(db, intent.id, "connection refused", when)
    assert (intent.state, intent.flag) == ("EXPIRED", "escalated")
    assert db.scalars(select(Alert.kind)).all() == ["payment_escalated"]


def test_a_created_intent_left_alone_is_found_by_the_sweeper(
    db: Session, household: Household
) -> None:
    intent = intent_for(db, household)
    assert sweeps.stale_created(db, NOW) == []
    assert sweeps.stale_created(db, NOW + dt.timedelta(minutes=3)) == [intent.id]


ORDERS = ("pending", "failed", "success", "duplicate")


def answer(kind: str, txn: str) -> StatusResult:
    if kind == "pending":
        return StatusResult(ProviderState.PENDING)
    if kind == "failed":
        return StatusResult(ProviderState.FAILED, reason="timeout")
    return succeeded(txn=txn)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(order=st.permutations(ORDERS))
def test_every_order_of_answers_ends_in_the_same_state(
    db: Session, mutual: Mutual, order: list[str]
) -> None:
    """payments.md: events are ordered by precedence, not arrival."""
    household = make_household(db, mutual, members=2, phone=PHONE)
    intent = intent_for(db, household)
    for kind in order:
        flow.apply_status(db, intent.id, answer(kind, f"T-{intent.reference}"), NOW)
    payments = db.scalars(select(Payment).where(Payment.household_id == household.id)).all()
    receipts = db.scalars(
        select(OutboxMessage).where(
            OutboxMessage.household_id == household.id,
            OutboxMessage.template == "payment_receipt",
        )
    ).all()
    assert intent.state == "SUCCEEDED" and len(payments) == 1 and len(receipts) == 1
    assert posting.household_credit(db, mutual.id, household.id) == 0


def test_a_recorded_callback_not_applied_is_found_by_the_sweeper(
    db: Session, household: Household
) -> None:
    """Its confirm job was lost with Redis: a minute later the sweeper sees it again."""
    intent = intent_for(db, household)
    stored, _ = events.record_event(
        db, "sandbox", event("e1", ProviderState.SUCCEEDED, intent.reference), None, NOW
    )
    assert sweeps.unapplied_events(db, NOW) == []
    assert sweeps.unapplied_events(db, NOW + dt.timedelta(minutes=1)) == [stored.id]
    flow.apply_event(db, stored.id, None, NOW)
    assert sweeps.unapplied_events(db, NOW + dt.timedelta(minutes=1)) == []


def test_callback_url_carries_the_token_and_channel_follows_the_number(
    db: Session, mutual: Mutual, household: Household
) -> None:
    intent = intent_for(db, household)
    request = payment_request(db, intent, "https://gw.example.org/", "s3cret")
    assert request.notify_url == "https://gw.example.org/payments/sandbox/callback?token=s3cret"
    assert (
        payment_request(db, intent, "http://x").notify_url == "http://x/payments/sandbox/callback"
    )
    assert channel_for(mutual, "+22676123456") == "ORANGE_BF"
    mutual.payment_settings = {"operators": ["orange"]}
    assert channel_for(mutual, "+22676123456") == "ORANGE_BF"
    assert channel_for(mutual, "+22670123456") is None  # Moov: not accepted by this mutual


def test_an_unknown_intent_is_first_asked_within_seconds_then_backs_off() -> None:
    """Issue 15, point 4: an UNKNOWN outcome's request has left (a timeout, a killed worker
    noticed seconds later), so its first status query comes after UNKNOWN_FIRST_POLL_S; a
    PENDING one waits POLL_DELAYS_S[0] for the member's PIN."""
    now = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
    unknown = PaymentIntent(state=IntentState.UNKNOWN, polls=0)
    schedule_poll(unknown, now)
    assert unknown.next_poll_at == now + dt.timedelta(seconds=UNKNOWN_FIRST_POLL_S)
    assert POLL_DELAYS_S[0] > UNKNOWN_FIRST_POLL_S
    pending = PaymentIntent(state=IntentState.PENDING, polls=0)
    schedule_poll(pending, now)
    assert pending.next_poll_at == now + dt.timedelta(seconds=POLL_DELAYS_S[0])
    unknown.polls = 1
    schedule_poll(unknown, now)
    assert unknown.next_poll_at == now + dt.timedelta(seconds=POLL_DELAYS_S[1])
