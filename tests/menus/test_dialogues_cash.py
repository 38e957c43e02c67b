"""Collector options 2-4 through the HTTP handler: cash collection (D20) with its ledger
effects and SMS receipt, what the household is offered before the amount is asked (D6b),
re-prompts, duplicated and replayed hops (one cash entry), the agent's cash position and the
remittance declaration (D21)."""

from __future__ import annotations

import datetime as dt
import re

import redis
from flask.testing import FlaskClient
from rq import Queue
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.clock import FixedClock
from gateway.menus.journeys import registry
from gateway.models import (
    Agent,
    Allocation,
    Campaign,
    CashCollection,
    Household,
    LedgerTransaction,
    Mutual,
    OutboxMessage,
    Payment,
    Remittance,
    Section,
)
from gateway.services import ledger
from gateway.services.agents.cash import RECEIPT_ALPHABET
from gateway.services.agents.registry import add_agent
from gateway.services.agents.remittances import confirm_remittance
from gateway.services.coverage import receive_payment
from gateway.services.ledger import posting
from tests.support import dialogue
from tests.support.dialogue import Phone
from tests.support.factories import add_beneficiary, make_household, make_mutual

COLLECTOR = "+22670000002"
SUPERVISOR = "+22670000003"
MEMBER_PHONE = "+22676000001"
PIN = "1470"
T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)

ussd_app, client = dialogue.ussd_app, dialogue.client


def setup(
    db: Session, clock: FixedClock, role: str = "collector", section: str | None = None
) -> tuple[Mutual, Household, Agent]:
    mutual = make_mutual(db)
    mutual.contact = "Mutuelle: 70 00 00 09"
    mutual.sections.append(Section(name="Nord"))
    mutual.sections.append(Section(name="Sud"))
    household = make_household(db, mutual, members=2, phone=MEMBER_PHONE)
    household.beneficiaries[0].full_name = "Awa Sawadogo"
    agent = add_agent(
        db, mutual, phone=COLLECTOR, name="Ali Kabore", role=role, pin=PIN, section=section
    )
    add_agent(db, mutual, phone=SUPERVISOR, name="Sup Ouedraogo", role="supervisor", pin="2580")
    db.commit()
    clock.at = T0
    return mutual, household, agent


def count(session_factory: sessionmaker[Session], model: type) -> int:
    with session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def cash_of(session_factory: sessionmaker[Session], agent: Agent) -> int:
    with session_factory() as session:
        return posting.balance(session, agent.mutual_id, f"asset:agent_cash:{agent.id}")


def test_collect_cash_allocates_and_sends_a_receipt(
    db: Session,
    client: FlaskClient,
    clock: FixedClock,
    session_factory: sessionmaker[Session],
    redis_client: redis.Redis[bytes],
) -> None:
    """D20: number -> amount -> confirm -> END with the receipt code; the household is
    credited and its two shares allocated (D7), the agent's cash grows, one SMS receipt."""
    _, household, agent = setup(db, clock)
    phone = Phone(client, COLLECTOR)
    phone.walk(PIN)
    ask = phone.send("2")
    assert ask.con and ask.lines == ["Numero du menage (ou d'une carte):", "0 Retour 00 Accueil"]
    amount = phone.send(household.number)
    assert amount.con
    assert amount.lines == [
        f"Menage {household.number}",
        "Awa S.",
        "Cotisation 2027: 12 000 FCFA",  # D6b (test_collect_screen_shows_what_is_offered)
        "Montant recu:",
        "0 Retour 00 Accueil",
    ]
    confirm = phone.send("12000")
    assert confirm.con
    assert confirm.lines == [
        "Encaisser 12 000 FCFA",
        f"Menage {household.number}",
        "Awa Sawadogo",
        "1 Confirmer",
        "2 Annuler",
        "0 Retour 00 Accueil",
    ]
    done = phone.send("1")
    assert done.end
    assert done.lines[:2] == ["Encaisse: 12 000 FCFA", f"Menage {household.number}"]
    assert done.lines[3] == "Le menage recoit le recu par SMS."
    code = done.lines[2].removeprefix("Recu: ")
    assert re.fullmatch(f"[{RECEIPT_ALPHABET}]{{6}}", code)
    with session_factory() as session:
        collection = session.scalars(select(CashCollection)).one()
        assert (collection.receipt_code, collection.amount) == (code, 12000)
        payment = session.get_one(Payment, collection.payment_id)
        assert (payment.channel, payment.agent_id, payment.amount) == ("cash", agent.id, 12000)
        assert posting.household_credit(session, agent.mutual_id, household.id) == 0
        assert session.scalar(select(func.count()).select_from(Allocation)) == 2
        sms = session.scalars(select(OutboxMessage)).one()
        assert (sms.phone, sms.template, sms.reason) == (MEMBER_PHONE, "cash_receipt", "receipt")
        assert sms.text == (
            f"MUT: 12 000 FCFA recu en especes, menage "
            f"{household.number}, ref {code}. PAYE, couvert des le 02/03/2027."
        )  # D12: the receipt says paid, and from when the 60 days of waiting end
        assert len(sms.text) <= 160 and sms.household_id == household.id
    assert cash_of(session_factory, agent) == 12000
    sends = Queue("sms", connection=redis_client).jobs  # enqueued after the hop's commit
    assert [job.args for job in sends] == [(str(sms.id),)]


def amount_screen(client: FlaskClient, household: Household) -> list[str]:
    """The lines a collector reads before typing the amount (D20, D6b)."""
    return Phone(client, COLLECTOR).walk(PIN, "2", household.number).lines


def test_collect_screen_shows_what_is_offered(
    db: Session, client: FlaskClient, clock: FixedClock
) -> None:
    """D6b before the amount: a household owing is offered the amount due and the period it
    buys (2026's join window is closed on 1 June: the money buys 2027, D10)."""
    _, household, _ = setup(db, clock)
    assert amount_screen(client, household)[:4] == [
        f"Menage {household.number}",
        "Awa S.",
        "Cotisation 2027: 12 000 FCFA",
        "Montant recu:",
    ]
    receive_payment(
        db, household=household, amount=5000, paid_on=T0.date(), channel="cash", reference="P-1"
    )
    db.commit()
    assert amount_screen(client, household)[2] == "Cotisation 2027: 7 000 FCFA"  # D7 credit


def test_collect_screen_shows_the_renewal_or_the_headline(
    db: Session, client: FlaskClient, clock: FixedClock
) -> None:
    """A household paid for 2026, on 15 September (more than 60 days before the year ends,
    D6b): nothing is offered, so its headline shows (D12); once a campaign for 2027 is open
    (D14), the renewal and the year it buys."""
    mutual, household, _ = setup(db, clock)
    receive_payment(
        db,
        household=household,
        amount=12000,
        paid_on=dt.date(2026, 1, 10),
        channel="cash",
        reference="P-2026",
    )
    db.commit()
    clock.at = dt.datetime(2026, 9, 15, 9, tzinfo=dt.UTC)
    assert amount_screen(client, household)[2:4] == ["A JOUR jusqu'au 31/12/2026", "Montant recu:"]
    db.add(
        Campaign(
            mutual_id=mutual.id,
            product_id=mutual.products[0].id,
            code="RECOLTE",
            name="Recolte",
            opens_on=dt.date(2026, 9, 1),
            closes_on=dt.date(2027, 1, 31),
            for_period=dt.date(2027, 1, 1),
        )
    )
    db.commit()
    assert amount_screen(client, household)[2] == "Cotisation 2027: 12 000 FCFA"
    clock.at = dt.datetime(2026, 8, 31, 9, tzinfo=dt.UTC)  # the day before it opens
    assert amount_screen(client, household)[2] == "A JOUR jusqu'au 31/12/2026"


def test_amount_zero_letters_and_too_large_reprompt(
    db: Session, client: FlaskClient, clock: FixedClock, session_factory: sessionmaker[Session]
) -> None:
    """A wrong amount keeps the screen with a short error line and records nothing. A lone
    `0` is the reserved back key (ussd.md), so a zero amount is typed `000`."""
    _, household, _ = setup(db, clock)
    phone = Phone(client, COLLECTOR)
    phone.walk(PIN, "2", household.number)
    assert phone.send("0").lines[0] == "Numero du menage (ou d'une carte):"
    phone.send(household.number)
    for typed, error in (
        ("000", "Le montant doit depasser 0."),
        ("12#", "Tapez le montant en chiffres."),
        ("12a", "Tapez le montant en chiffres."),  # a smartphone's reply box allows letters
        ("mille", "Tapez le montant en chiffres."),
        ("2000000", "Montant trop eleve."),
    ):
        reply = phone.send(typed)
        assert reply.con and reply.lines[:2] == [error, f"Menage {household.number}"], typed
    assert phone.send("500").lines[0] == "Encaisser 500 FCFA"
    assert count(session_factory, CashCollection) == 0


def test_amount_check_takes_digits_only() -> None:
    """Letters never reach the screen on a keypad (the handler answers 400), but the check
    refuses them too; the value (zero, too large) is the action's business."""
    check = registry().checks["cash_amount"]
    assert check("000") and check("2500") and check("9" * 12)
    assert not any(check(v) for v in ("12a", "", "1 000", "5#", "9" * 13, "\u0663"))


def test_unknown_household_reprompts_and_ambiguous_sends_to_the_mutual(
    db: Session, client: FlaskClient, clock: FixedClock
) -> None:
    mutual, household, _ = setup(db, clock)
    phone = Phone(client, COLLECTOR)
    phone.walk(PIN, "2")
    unknown = phone.send("424242")
    assert unknown.con and unknown.lines[:2] == [
        "Numero inconnu.",
        "Numero du menage (ou d'une carte):",
    ]
    # A beneficiary's card leads to their household.
    assert phone.send(household.beneficiaries[1].number).lines[0] == f"Menage {household.number}"
    twin = make_household(db, mutual)
    for prefix, row in zip(("BF-", "ML-"), (household, twin), strict=True):
        row.number, row.digits = f"{prefix}7788", "7788"
    db.commit()
    reply = Phone(client, COLLECTOR).walk(PIN, "2", "7788")
    assert reply.end and reply.lines[-1] == "Mutuelle: 70 00 00 09"


def test_households_of_another_mutual_or_section_are_refused(
    db: Session, client: FlaskClient, clock: FixedClock
) -> None:
    """An agent collects for their own mutual, and their own section when they have one."""
    mutual, household, _ = setup(db, clock, section="Nord")
    household.section_id = mutual.sections[1].id  # Sud
    stranger = make_household(db, make_mutual(db, code="AUTRE"))
    db.commit()
    phone = Phone(client, COLLECTOR)
    phone.walk(PIN, "2")
    assert phone.send(household.number).lines[0] == "Menage d'une autre section."
    assert phone.send(stranger.number).lines[0] == "Numero inconnu."
    household.section_id = mutual.sections[0].id  # Nord
    db.commit()
    assert phone.send(household.number).lines[0] == f"Menage {household.number}"


def test_cancel_records_nothing(
    db: Session, client: FlaskClient, clock: FixedClock, session_factory: sessionmaker[Session]
) -> None:
    _, household, _ = setup(db, clock)
    reply = Phone(client, COLLECTOR).walk(PIN, "2", household.number, "3000", "2")
    assert reply.end and reply.text == "Operation annulee, rien n'est enregistre."
    assert count(session_factory, CashCollection) == 0
    assert count(session_factory, Payment) == 0


def test_duplicated_and_replayed_hops_take_the_cash_once(
    db: Session,
    client: FlaskClient,
    clock: FixedClock,
    session_factory: sessionmaker[Session],
    redis_client: redis.Redis[bytes],
) -> None:
    """The aggregator resends the confirming hop; then Redis loses the session and the same
    text is replayed from scratch: one collection, one ledger entry, one SMS, same code."""
    _, household, agent = setup(db, clock)
    phone = Phone(client, COLLECTOR)
    done = phone.walk(PIN, "2", household.number, "6000", "1")
    assert phone.resend().text == done.text
    for key in redis_client.keys("ussd:*"):
        redis_client.delete(key)
    replayed = phone.resend()
    assert replayed.end and replayed.text == done.text
    assert count(session_factory, CashCollection) == 1
    assert count(session_factory, OutboxMessage) == 1
    with session_factory() as session:
        kinds = session.scalars(select(LedgerTransaction.kind)).all()
        assert kinds.count("payment") == 1
    assert cash_of(session_factory, agent) == 6000
    # A new session collecting again is a new collection, with another code.
    again = Phone(client, COLLECTOR).walk(PIN, "2", household.number, "6000", "1")
    assert again.end and again.lines[2] != done.lines[2]
    assert cash_of(session_factory, agent) == 12000


def test_three_wrong_pins_lock_before_any_cash_screen(
    db: Session, client: FlaskClient, clock: FixedClock, session_factory: sessionmaker[Session]
) -> None:
    """D19: a locked collector cannot reach option 2 even with the right PIN, nor with a
    deep dial that types the PIN and the option at once."""
    setup(db, clock)
    phone = Phone(client, COLLECTOR)
    assert phone.walk("9999").lines[0] == "PIN incorrect. 2 essai(s)."
    assert phone.send("8888").con
    assert phone.send("7777").end
    blocked = Phone(client, COLLECTOR).walk(PIN)
    assert blocked.end and blocked.text.startswith("PIN bloque jusqu'a")
    deep = Phone(client, COLLECTOR).dial(f"{PIN}*2")
    assert deep.end and deep.text.startswith("PIN bloque jusqu'a")
    assert count(session_factory, CashCollection) == 0


def test_my_cash_shows_collected_remitted_outstanding_and_age(
    db: Session, client: FlaskClient, clock: FixedClock, session_factory: sessionmaker[Session]
) -> None:
    """Option 3 (D21): from the collections, confirmed remittances and the ledger; the age
    is that of the oldest cash not yet remitted (first in, first out)."""
    _, household, agent = setup(db, clock)
    empty = Phone(client, COLLECTOR).walk(PIN, "3")
    assert empty.end and empty.lines[-1] == "Rien a verser."
    Phone(client, COLLECTOR).walk(PIN, "2", household.number, "2000", "1")
    clock.advance(days=3)
    Phone(client, COLLECTOR).walk(PIN, "2", household.number, "5000", "1")
    clock.advance(days=2)
    Phone(client, COLLECTOR).walk(PIN, "4", "3000", "1", "1")
    with session_factory() as session:
        remittance = session.scalars(select(Remittance)).one()
        supervisor = session.scalars(select(Agent).where(Agent.msisdn == SUPERVISOR)).one()
        confirm_remittance(session, remittance_id=remittance.id, supervisor=supervisor, now=T0)
        session.commit()
    reply = Phone(client, COLLECTOR).walk(PIN, "3")
    assert reply.end
    assert reply.lines == [
        "Ma caisse",
        "Encaisse: 7 000 FCFA",
        "Verse: 3 000 FCFA",
        "Declare: 0 FCFA",
        "En caisse: 4 000 FCFA",
        "Plus ancien: 2 jour(s)",  # the first 2 000 are remitted: the oldest left is day 3
    ]
    assert cash_of(session_factory, agent) == 4000


def test_declare_a_remittance(
    db: Session, client: FlaskClient, clock: FixedClock, session_factory: sessionmaker[Session]
) -> None:
    """Option 4 (D21): at most the cash not yet declared, deposited or transferred; PENDING
    until a supervisor confirms, so the agent's cash account does not move yet."""
    _, household, agent = setup(db, clock)
    Phone(client, COLLECTOR).walk(PIN, "2", household.number, "8000", "1")
    phone = Phone(client, COLLECTOR)
    phone.walk(PIN)
    ask = phone.send("4")
    assert ask.con and ask.lines == [
        "A declarer au plus: 8 000 FCFA",
        "Montant verse (FCFA):",
        "0 Retour 00 Accueil",
    ]
    assert phone.send("9000").lines[0] == "Plus que votre caisse."
    assert phone.send("000").lines[0] == "Le montant doit depasser 0."
    assert phone.send("5#").lines[0] == "Tapez le montant en chiffres."
    how = phone.send("5000")
    assert how.lines == [
        "Versement de 5 000 FCFA, fait par:",
        "1 Depot (banque, bureau)",
        "2 Transfert mobile money",
        "0 Retour 00 Accueil",
    ]
    assert phone.send("3").lines[0] == "Choix invalide."
    confirm = phone.send("2")
    assert confirm.lines == [
        "Declarer un transfert de 5 000 FCFA?",
        "1 Confirmer",
        "2 Annuler",
        "0 Retour 00 Accueil",
    ]
    done = phone.send("1")
    assert phone.resend().text == done.text
    with session_factory() as session:
        remittance = session.scalars(select(Remittance)).one()
        assert (remittance.status, remittance.amount, remittance.method) == (
            "PENDING",
            5000,
            "transfer",
        )
        assert remittance.agent_id == agent.id
        assert remittance.declared_at == T0
    assert done.end and done.text == (
        f"Versement #{remittance.id} de 5 000 FCFA declare. Un superviseur doit le confirmer."
    )
    assert cash_of(session_factory, agent) == 8000
    again = Phone(client, COLLECTOR).walk(PIN, "4")
    assert again.lines[0] == "A declarer au plus: 3 000 FCFA"
    assert Phone(client, COLLECTOR).walk(PIN, "3").lines[3] == "Declare: 5 000 FCFA"


def test_supervisor_collects_too_and_facility_cannot(
    db: Session, client: FlaskClient, clock: FixedClock
) -> None:
    _, household, _ = setup(db, clock, role="supervisor")
    assert Phone(client, COLLECTOR).walk(PIN, "2", household.number, "1000", "1").end
    add_agent(db, household.mutual, phone="+22670000009", name="Inf", role="facility", pin="3690")
    db.commit()
    assert Phone(client, "+22670000009").walk("3690", "2").lines[0] == "Choix invalide."


def test_english_screens(db: Session, client: FlaskClient, clock: FixedClock) -> None:
    mutual, household, _ = setup(db, clock)
    mutual.languages = ["en", "fr"]
    db.commit()
    assert amount_screen(client, household)[2:4] == [
        "Contribution 2027: 12,000 FCFA",
        "Amount received:",
    ]
    reply = Phone(client, COLLECTOR).walk(PIN, "2", household.number, "1000", "1")
    assert reply.lines[0] == "Collected: 1,000 FCFA"
    assert Phone(client, COLLECTOR).walk(PIN, "3").lines[-1] == "Oldest: 0 day(s)"


def test_member_phone_is_not_needed_for_a_collection(
    db: Session, client: FlaskClient, clock: FixedClock, session_factory: sessionmaker[Session]
) -> None:
    """No phone: the collector is told to give the code; nothing is queued."""
    mutual, _, _ = setup(db, clock)
    bare = make_household(db, mutual)
    add_beneficiary(db, bare, T0.date())
    db.commit()
    reply = Phone(client, COLLECTOR).walk(PIN, "2", bare.number, "1000", "1")
    assert reply.lines[-1] == "Pas de telephone: donnez ce code au menage."
    assert count(session_factory, OutboxMessage) == 0


def test_cash_is_recorded_while_the_ledger_is_on_hold_and_the_receipt_waits(
    db: Session, client: FlaskClient, clock: FixedClock, session_factory: sessionmaker[Session]
) -> None:
    """A held ledger (payments.md, "Ledger"; D20): the cash is taken and recorded, nothing is
    allocated, no receipt states a coverage; the collector still tells the household that the
    SMS will come (it is sent when the hold is cleared)."""
    mutual, household, _ = setup(db, clock)
    ledger.hold(db, mutual.id, ["a breach"], now=T0)
    db.commit()
    reply = Phone(client, COLLECTOR).walk(PIN, "2", household.number, "12000", "1")
    assert reply.end and reply.lines[-1] == "Le menage recoit le recu par SMS."
    assert (count(session_factory, CashCollection), count(session_factory, Payment)) == (1, 1)
    assert count(session_factory, Allocation) == 0 and count(session_factory, OutboxMessage) == 0
    with session_factory() as session:
        assert posting.household_credit(session, mutual.id, household.id) == 12000


def test_supervisor_confirms_a_remittance_on_ussd(
    db: Session, client: FlaskClient, clock: FixedClock, session_factory: sessionmaker[Session]
) -> None:
    """D21: a supervisor's option 4 offers 1 declare / 2 confirm; confirming moves the cash
    to the bank once; a second supervisor arriving late is told it is already confirmed."""
    mutual, household, agent = setup(db, clock)
    add_agent(db, mutual, phone="+22670000004", name="Issa Zongo", role="supervisor", pin="3690")
    db.commit()
    Phone(client, COLLECTOR).walk(PIN, "2", household.number, "8000", "1")
    Phone(client, COLLECTOR).walk(PIN, "4", "5000", "2", "1")
    with session_factory() as session:
        remittance_id = session.scalars(select(Remittance.id)).one()
    sup = Phone(client, SUPERVISOR)
    assert sup.walk("2580").lines[-2:] == ["4 Declarer un versement", "5 Inscrire un menage"]
    assert sup.send("4").lines == [
        "Versements:",
        "1 Declarer mon versement",
        "2 Confirmer un versement",
        "0 Retour 00 Accueil",
    ]
    assert sup.send("2").lines == [
        "Versements a confirmer: 1",
        f"1 #{remittance_id} Ali K. 5 000 FCFA",
        "0 Retour 00 Accueil",
    ]
    assert sup.send("1").lines == [
        f"#{remittance_id} Ali K.: 5 000 FCFA",
        "transfert du 01/06/2026",
        "1 Confirmer",
        "2 Rejeter",
        "3 Annuler",
        "0 Retour 00 Accueil",
    ]
    late = Phone(client, "+22670000004")
    late.walk("3690", "4", "2", "1")
    done = sup.send("1")
    assert done.end and done.text == (
        f"Versement #{remittance_id} confirme: 5 000 FCFA de Ali K. sortis de sa caisse."
    )
    assert sup.resend().text == done.text
    already = late.send("1")
    assert already.end and already.text == (
        f"Versement #{remittance_id} deja confirme par Sup O., rien n'a change."
    )
    with session_factory() as session:
        row = session.get_one(Remittance, remittance_id)
        assert row.status == "CONFIRMED" and row.confirmed_at == T0
        kinds = session.scalars(select(LedgerTransaction.kind)).all()
        assert kinds.count("remittance") == 1
    assert cash_of(session_factory, agent) == 3000
    assert Phone(client, SUPERVISOR).walk("2580", "4", "2").lines[0] == "Versements a confirmer: 0"


def test_supervisor_rejects_a_remittance_on_ussd(
    db: Session, client: FlaskClient, clock: FixedClock, session_factory: sessionmaker[Session]
) -> None:
    """D21: 2 Rejeter asks why; nothing is posted, the cash stays the agent's, who can declare
    it again; a supervisor arriving late is told it was rejected, and by whom."""
    mutual, household, agent = setup(db, clock)
    add_agent(db, mutual, phone="+22670000004", name="Issa Zongo", role="supervisor", pin="3690")
    db.commit()
    Phone(client, COLLECTOR).walk(PIN, "2", household.number, "8000", "1")
    Phone(client, COLLECTOR).walk(PIN, "4", "5000", "1", "1")
    with session_factory() as session:
        remittance_id = session.scalars(select(Remittance.id)).one()
    late = Phone(client, "+22670000004")
    late.walk("3690", "4", "2", "1")
    sup = Phone(client, SUPERVISOR)
    sup.walk("2580", "4", "2", "1")
    assert sup.send("2").lines == [
        f"Rejeter le versement #{remittance_id}. Motif:",
        "1 Argent non recu",
        "2 Montant different",
        "0 Retour 00 Accueil",
    ]
    done = sup.send("1")
    assert done.end and done.text == (
        f"Versement #{remittance_id} rejete: Ali K. garde 5 000 FCFA en caisse."
    )
    assert sup.resend().text == done.text
    already = late.send("1")  # confirming what was just rejected
    assert already.end and already.text == (
        f"Versement #{remittance_id} deja rejete par Sup O., rien n'a change."
    )
    with session_factory() as session:
        row = session.get_one(Remittance, remittance_id)
        assert (row.status, row.note, row.rejected_at, row.confirmed_at) == (
            "REJECTED",
            "money not received",
            T0,
            None,
        )
        assert session.scalars(select(LedgerTransaction.kind)).all().count("remittance") == 0
    assert cash_of(session_factory, agent) == 8000
    again = Phone(client, COLLECTOR).walk(PIN, "4")
    assert again.lines[0] == "A declarer au plus: 8 000 FCFA"
    assert Phone(client, SUPERVISOR).walk("2580", "4", "2").lines[0] == "Versements a confirmer: 0"


def test_supervisor_does_not_see_their_own_remittance(
    db: Session, client: FlaskClient, clock: FixedClock, session_factory: sessionmaker[Session]
) -> None:
    _, household, _ = setup(db, clock)
    sup = Phone(client, SUPERVISOR)
    sup.walk("2580", "2", household.number, "4000", "1")
    declared = Phone(client, SUPERVISOR).walk("2580", "4", "1", "4000", "1", "1")
    assert declared.end and "declare" in declared.text
    phone = Phone(client, SUPERVISOR)
    assert phone.walk("2580", "4", "2").lines[0] == "Versements a confirmer: 0"
    assert phone.send("1").lines[0] == "Choix invalide."
    with session_factory() as session:
        assert session.scalars(select(Remittance.status)).one() == "PENDING"
