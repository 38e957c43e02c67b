"""Member option 2, Payer ma cotisation (ussd.md menu map, D6, D1 installments, payments.md
intent first): screens, bad amounts re-prompted with nothing written, one intent per USSD
session whatever the hops' duplicates and replays, its initiation deferred to the worker,
and never a PIN asked."""

from __future__ import annotations

import datetime as dt

import pytest
from rq import Queue
from sqlalchemy.orm import Session, sessionmaker

from gateway.menus.engine.store import SessionStore
from gateway.menus.journeys import member_pay
from gateway.models import Household
from gateway.services.coverage.allocation import receive_payment
from tests.support.dialogue import Phone
from tests.support.payments import PHONE, PayEnv, env, family, intents, one_intent
from worker import registry

__all__ = ["env"]
JAN_5 = dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _january(env: PayEnv) -> None:
    env.clock.at = JAN_5


def queued_jobs(env: PayEnv) -> list[str]:
    return list(Queue(registry.PAYMENTS, connection=env.redis).job_ids)


def test_pay_the_amount_due_d6(env: PayEnv, session_factory: sessionmaker[Session]) -> None:
    """2 -> amount due (D6) -> 1 -> confirm (amount, the caller's wallet) -> 1 -> END; one
    CREATED intent for the mutual's provider and an initiate job after the commit."""
    household_id, _ = family(session_factory, members=3)
    phone = Phone(env.client, PHONE)
    phone.dial()
    reply = phone.send("2")
    assert reply.lines == [
        "PAS A JOUR",
        "Cotisation 2026: 18 000 FCFA",
        "1 Payer ce montant",
        "2 Autre montant",
        "0 Retour 00 Accueil",
    ]
    reply = phone.send("1")
    assert reply.lines == [
        "Payer 18 000 FCFA pour 2026",
        f"depuis le compte mobile money {PHONE} ?",
        "1 Confirmer",
        "2 Annuler",
        "0 Retour 00 Accueil",
    ]
    assert intents(session_factory) == []  # nothing written before the confirmation
    reply = phone.send("1")
    assert reply.end
    assert "Demande de paiement de 18 000 FCFA envoyee" in reply
    assert "code PIN mobile money" in reply and "Un SMS" in reply
    intent = one_intent(session_factory)
    assert (intent.household_id, intent.amount, intent.msisdn) == (household_id, 18000, PHONE)
    assert (intent.state, intent.provider, intent.initiate_attempts) == ("CREATED", "sandbox", 0)
    assert intent.origin_key and intent.origin_key.startswith("ussd-pay:")
    assert queued_jobs(env) == [f"initiate-payment-{intent.id}"]


def test_duplicate_and_replayed_hops_make_one_intent(
    env: PayEnv, session_factory: sessionmaker[Session]
) -> None:
    """ussd.md idempotent hops: the confirming hop delivered twice, then replayed from scratch
    after its Redis session is lost, still gives one intent (origin key = the session)."""
    family(session_factory)
    phone = Phone(env.client, PHONE)
    phone.walk("2", "1", "1")
    assert phone.resend().end
    SessionStore(env.redis).delete(SessionStore.key("africastalking", phone.session_id))
    assert phone.resend().end  # replayed input by input: the action runs again
    assert len(intents(session_factory)) == 1


def test_other_amount_with_bad_inputs_reprompted(
    env: PayEnv, session_factory: sessionmaker[Session]
) -> None:
    """D2 whole francs: "100.5", "1e3", "-5" (typed in a smartphone's reply box), "1*5", too
    small, too big and too long re-prompt with a short reason; nothing is written; then 2500
    goes to the confirmation."""
    family(session_factory)
    phone = Phone(env.client, PHONE)
    phone.walk("2", "2")
    assert phone.last is not None and phone.last.lines[0] == "Montant a payer en FCFA (chiffres):"
    for typed, error in [
        ("100.5", "Tapez le montant en chiffres."),
        ("1e3", "Tapez le montant en chiffres."),
        ("-5", "Tapez le montant en chiffres."),
        ("1*5", "Tapez le montant en chiffres."),
        ("", "Tapez le montant en chiffres."),
        ("99", "Minimum 100 FCFA."),
        ("2000001", "Maximum 2 000 000 FCFA."),
        ("9" * 13, "Tapez le montant en chiffres."),
    ]:
        reply = phone.send(typed)
        assert reply.con and reply.lines[:2] == [error, "Montant a payer en FCFA (chiffres):"]
    assert intents(session_factory) == []
    reply = phone.send("2500")
    assert reply.lines[0] == "Payer 2 500 FCFA pour 2026"  # D6b: the period it goes to
    assert phone.send("1").end
    assert one_intent(session_factory).amount == 2500


def test_cancel_writes_nothing(env: PayEnv, session_factory: sessionmaker[Session]) -> None:
    family(session_factory)
    reply = Phone(env.client, PHONE).walk("2", "1", "2")
    assert reply.end and reply.text == "Paiement annule. Rien n'a ete demande."
    assert intents(session_factory) == []
    assert queued_jobs(env) == []


def test_no_installments_offers_only_the_amount_due_d1(
    env: PayEnv, session_factory: sessionmaker[Session]
) -> None:
    """D1 `installments = false`: no "Autre montant"; typing 2 is an invalid choice."""
    family(session_factory, installments=False)
    phone = Phone(env.client, PHONE)
    reply = phone.walk("2")
    assert reply.lines == [
        "PAS A JOUR",
        "Cotisation 2026: 18 000 FCFA",
        "1 Payer ce montant",
        "0 Retour 00 Accueil",
    ]
    assert phone.send("2").lines[0] == "Choix invalide."


def test_nothing_due_still_offers_an_advance_d7(
    env: PayEnv, session_factory: sessionmaker[Session]
) -> None:
    """D6 = 0: say so, and offer another amount (it waits as household credit, D7)."""
    household_id, number = family(session_factory, members=1)
    with session_factory.begin() as session:
        household = session.get_one(Household, household_id)
        receive_payment(
            session,
            household=household,
            amount=6000,
            paid_on=dt.date(2026, 1, 2),
            channel="cash",
            reference=f"cash-{number}",
        )
    phone = Phone(env.client, PHONE)
    reply = phone.walk("2")
    assert reply.lines == [
        "PAYE, couvert des le 03/03/2026",  # D12: paid on 02/01, 60 days of waiting
        "Rien a payer pour le moment. Vous pouvez verser une avance.",
        "2 Autre montant",
        "0 Retour 00 Accueil",
    ]
    assert phone.send("1").lines[0] == "Choix invalide."
    assert phone.send("2").lines[0] == "Montant a payer en FCFA (chiffres):"


def test_english_household(env: PayEnv, session_factory: sessionmaker[Session]) -> None:
    household_id, _ = family(session_factory)
    with session_factory.begin() as session:
        household = session.get_one(Household, household_id)
        household.language = "en"
    phone = Phone(env.client, PHONE)
    assert phone.walk("2").lines[:4] == [
        "NOT UP TO DATE",
        "Contribution 2026: 18,000 FCFA",
        "1 Pay this amount",
        "2 Other amount",
    ]
    assert phone.send("1").lines[:2] == [
        "Pay 18,000 FCFA for 2026",
        f"from mobile-money account {PHONE}?",
    ]
    assert "Confirm it with your mobile-money PIN" in phone.send("1")


def test_never_asks_for_a_pin() -> None:
    """ussd.md: no payment screen takes a PIN (the operator's own prompt does, later)."""
    assert not any(screen.secret for screen in member_pay.SCREENS)
    assert {s.kind for s in member_pay.SCREENS if s.validator} == {"input"}
    assert [s.validator for s in member_pay.SCREENS if s.validator] == ["amount"]
