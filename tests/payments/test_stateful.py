"""A stateful test (architecture.md): payments, callbacks duplicated, reordered and lost, polls
and the sweeper, interleaved by Hypothesis, and the ledger checked against a simple model.

The model is the provider's truth per intent. Whatever the interleaving, money only moves for
successes the provider confirms, once each, and after a final sweep our side agrees with it."""

from __future__ import annotations

import datetime as dt
import itertools

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.models import Mutual, Payment, PaymentIntent
from gateway.services.ledger import posting
from gateway.services.payments import CallbackEvent, ProviderState, StatusResult, events, flow
from gateway.services.payments.intents import create_intent
from gateway.services.payments.lifecycle import TERMINAL, polled
from tests.support.factories import make_household, make_mutual

NOW = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)
PHONE = "+22670123456"
_codes = itertools.count(1)


def make_machine(db: Session) -> type[RuleBasedStateMachine]:  # noqa: C901 (rules = branches)
    class Payments(RuleBasedStateMachine):
        intents = Bundle("intents")

        def __init__(self) -> None:
            super().__init__()
            self.mutual: Mutual = make_mutual(db, code=f"SF{next(_codes)}")
            self.household = make_household(db, self.mutual, members=2, phone=PHONE)
            self.truth: dict[int, ProviderState] = {}  # the provider's, per intent id
            self.sent: dict[int, list[CallbackEvent]] = {}  # callbacks emitted so far
            self.now = NOW
            self.keys = itertools.count(1)

        @rule(target=intents, amount=st.sampled_from([500, 6_000, 12_000]))
        def member_pays(self, amount: int) -> int:
            intent = create_intent(
                db, household=self.household, amount=amount, msisdn=PHONE, now=self.now
            )
            db.flush()
            self.truth[intent.id] = ProviderState.PENDING
            self.sent[intent.id] = []
            return intent.id

        @rule(intent_id=intents, outcome=st.sampled_from(["SUCCEEDED", "FAILED"]))
        def provider_decides(self, intent_id: int, outcome: str) -> None:
            if self.truth[intent_id] is ProviderState.PENDING:  # a provider decides once
                self.truth[intent_id] = ProviderState(outcome)
                self.sent[intent_id].append(self._event(intent_id))

        @rule(intent_id=intents, data=st.data())
        def callback_arrives(self, intent_id: int, data: st.DataObject) -> None:
            """Any callback sent so far, again or late (out of order); others may be lost."""
            sent = self.sent[intent_id]
            if not sent:
                return
            event = data.draw(st.sampled_from(sent))
            stored, _ = events.record_event(db, "sandbox", event, None, self.now)
            flow.apply_event(db, stored.id, None, self.now)

        @rule(intent_id=intents)
        def sweeper_polls(self, intent_id: int) -> None:
            intent = db.get_one(PaymentIntent, intent_id)
            if intent.state in TERMINAL:
                return
            flow.apply_status(db, intent_id, self._status(intent_id), self.now)

        @rule(minutes=st.integers(1, 20))
        def time_passes(self, minutes: int) -> None:
            self.now += dt.timedelta(minutes=minutes)

        def _event(self, intent_id: int) -> CallbackEvent:
            intent = db.get_one(PaymentIntent, intent_id)
            state = self.truth[intent_id]
            return CallbackEvent(
                event_key=f"{intent.reference}:{state.value}:{next(self.keys)}",
                reference=intent.reference,
                provider_txn_id=f"TX-{intent.reference}",
                state=state,
                amount=intent.amount,
                currency="XOF",
                msisdn=PHONE,
                verified=True,
                needs_confirmation=False,
            )

        def _status(self, intent_id: int) -> StatusResult:
            intent = db.get_one(PaymentIntent, intent_id)
            state = self.truth[intent_id]
            return StatusResult(
                state,
                amount=intent.amount,
                currency="XOF",
                provider_txn_id=f"TX-{intent.reference}",
            )

        @invariant()
        def money_moves_only_for_confirmed_successes_once(self) -> None:
            mine = select(PaymentIntent).where(PaymentIntent.mutual_id == self.mutual.id)
            intents = db.scalars(mine).all()
            credited = sum(i.amount for i in intents if i.payment_id is not None)
            for intent in intents:
                if intent.payment_id is not None:
                    assert self.truth[intent.id] is ProviderState.SUCCEEDED
            assert posting.balance(db, self.mutual.id, "asset:float:sandbox") == credited
            payments = db.scalar(
                select(func.count()).select_from(Payment).where(Payment.mutual_id == self.mutual.id)
            )
            assert payments == sum(1 for i in intents if i.payment_id is not None)

        def teardown(self) -> None:
            """Once the provider has decided everything, its notifier has delivered each
            decision at least once (it retries until 2xx) and the sweeper has polled what is
            still open (expired intents get late checks), we agree with it: a success after
            our intent expired included (flagged late)."""
            for intent_id, state in self.truth.items():
                if state is ProviderState.PENDING:
                    self.truth[intent_id] = ProviderState.FAILED
                    self.sent[intent_id].append(self._event(intent_id))
                for sent in self.sent[intent_id][-1:]:
                    stored, _ = events.record_event(db, "sandbox", sent, None, self.now)
                    flow.apply_event(db, stored.id, None, self.now)
                intent = db.get_one(PaymentIntent, intent_id)
                if polled(intent):
                    flow.apply_status(db, intent_id, self._status(intent_id), self.now)
                expected = "SUCCEEDED" if self.truth[intent_id] is ProviderState.SUCCEEDED else None
                if expected:
                    assert intent.state == "SUCCEEDED" and intent.payment_id is not None
                else:
                    assert intent.state in ("FAILED", "EXPIRED") and intent.payment_id is None
            self.money_moves_only_for_confirmed_successes_once()

    return Payments


def test_interleaved_payments_callbacks_and_polls_agree_with_the_provider(db: Session) -> None:
    run_state_machine_as_test(
        make_machine(db),
        settings=settings(
            max_examples=25,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
