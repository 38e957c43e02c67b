"""Cash collected by agents (D20) and what they hold (D21).

A collection is a cash payment allocated like any other (D7) through
`allocation.receive_payment` (Dr asset:agent_cash:<agent> / Cr the household), plus a short
receipt code the household gets by SMS. The caller's request key (a USSD session and step)
makes a replayed or duplicated request return the first collection: the money is taken once."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from gateway.clock import local_date
from gateway.lib import formatting
from gateway.lib.catalogs import pick_language
from gateway.models import (
    Agent,
    CashCollection,
    Household,
    HouseholdPhone,
    Mutual,
    OutboxMessage,
    Payment,
    Remittance,
    RemittanceStatus,
)
from gateway.services import ledger
from gateway.services.coverage import (
    Standing,
    held_text,
    receipt_status,
    receive_payment,
    standing_of,
)
from gateway.services.messaging import queue_sms

# Receipt codes: read aloud and copied by hand, so no 0/O nor 1/I.
RECEIPT_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
RECEIPT_LEN = 6
MAX_COLLECTION = 1_000_000  # XOF in one cash collection: a typo guard, far above any due
COLLECTING_ROLES = ("collector", "supervisor")


class CashError(ValueError):
    """A collection or remittance refused; `reason` names the rule for the USSD screens."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Collected:
    collection: CashCollection
    created: bool
    receipt: OutboxMessage | None  # the household's SMS, None without a phone


@dataclass(frozen=True)
class CashPosition:
    """D21: collected, confirmed remittances, outstanding (the ledger's agent_cash balance),
    declared but unconfirmed, and the day of the oldest cash not yet remitted (FIFO)."""

    collected: int
    remitted: int
    pending: int
    outstanding: int
    oldest_on: dt.date | None
    oldest_collection_id: int | None

    @property
    def available(self) -> int:
        """What may still be declared: outstanding minus remittances awaiting confirmation."""
        return max(self.outstanding - self.pending, 0)

    def age_days(self, today: dt.date) -> int:
        return (today - self.oldest_on).days if self.oldest_on else 0


def local_day(mutual: Mutual, now: dt.datetime) -> dt.date:
    return local_date(now, mutual.timezone)


def check_collector(agent: Agent) -> None:
    if not agent.active or agent.role not in COLLECTING_ROLES:
        raise CashError("role", f"agent {agent.id} may not handle cash (role {agent.role})")


def check_household(agent: Agent, household: Household) -> None:
    """An agent collects for households of their mutual, and of their section if they have one."""
    if household.mutual_id != agent.mutual_id:
        raise CashError("mutual", f"household {household.number} is not of the agent's mutual")
    if agent.section_id is not None and household.section_id != agent.section_id:
        raise CashError("section", f"household {household.number} is not of the agent's section")


def check_amount(amount: int) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise CashError("zero", f"amount must be a positive whole number of XOF, got {amount!r}")
    if amount > MAX_COLLECTION:
        raise CashError("high", f"amount {amount} is above {MAX_COLLECTION} XOF")


def collect_cash(
    session: Session,
    *,
    agent: Agent,
    household: Household,
    amount: int,
    request_key: str,
    now: dt.datetime,
) -> Collected:
    """D20: record the cash once per request key, allocate it (D7), queue the SMS receipt."""
    found = _by_key(session, request_key)
    if found is not None:
        return Collected(found, False, _receipt_of(session, found))
    check_collector(agent)
    check_household(agent, household)
    check_amount(amount)
    mutual = session.get_one(Mutual, agent.mutual_id)
    day = local_day(mutual, now)
    for _ in range(20):  # a clash of random codes is rare; retry with another code
        code = new_receipt_code()
        if _code_taken(session, mutual.id, code):
            continue
        try:
            with session.begin_nested():
                collection = _record(session, agent, household, amount, code, request_key, now, day)
        except IntegrityError:
            found = _by_key(session, request_key)
            if found is not None:  # a concurrent request with the same key won
                return Collected(found, False, _receipt_of(session, found))
            continue
        return Collected(collection, True, _send_receipt(session, mutual, collection))
    raise RuntimeError("could not draw a free receipt code")


def _record(
    session: Session,
    agent: Agent,
    household: Household,
    amount: int,
    code: str,
    request_key: str,
    now: dt.datetime,
    day: dt.date,
) -> CashCollection:
    payment, _ = receive_payment(
        session,
        household=household,
        amount=amount,
        paid_on=day,
        channel="cash",
        reference=f"CASH-{code}",
        agent_id=agent.id,
        now=now,
    )
    collection = CashCollection(
        mutual_id=agent.mutual_id,
        agent_id=agent.id,
        household_id=household.id,
        payment_id=payment.id,
        amount=amount,
        receipt_code=code,
        request_key=request_key,
        collected_at=now,
        collected_on=day,
    )
    session.add(collection)
    session.flush()
    return collection


def new_receipt_code() -> str:
    return "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(RECEIPT_LEN))


def _code_taken(session: Session, mutual_id: int, code: str) -> bool:
    query = select(CashCollection.id).where(
        CashCollection.mutual_id == mutual_id, CashCollection.receipt_code == code
    )
    return session.scalar(query) is not None


def _by_key(session: Session, request_key: str) -> CashCollection | None:
    query = select(CashCollection).where(CashCollection.request_key == request_key)
    return session.scalars(query).one_or_none()


def _receipt_key(collection: CashCollection) -> str:
    return f"cash-receipt:{collection.mutual_id}:{collection.receipt_code}"


def _receipt_of(session: Session, collection: CashCollection) -> OutboxMessage | None:
    query = select(OutboxMessage).where(OutboxMessage.dedupe_key == _receipt_key(collection))
    return session.scalars(query).first()


def _send_receipt(
    session: Session, mutual: Mutual, collection: CashCollection
) -> OutboxMessage | None:
    """The household's SMS receipt (transactional: sent even when reminders are off, D18)."""
    household = collection.household
    phone = session.scalars(
        select(HouseholdPhone.msisdn)
        .where(HouseholdPhone.household_id == household.id)
        .order_by(HouseholdPhone.is_primary.desc(), HouseholdPhone.id)
    ).first()
    if phone is None:
        return None
    language = pick_language(household.language, *mutual.languages)
    found = standing_of(session, household, collection.collected_on)
    message = queue_sms(
        session,
        mutual_id=mutual.id,
        household_id=household.id,
        phone=phone,
        template="cash_receipt",
        language=language,
        params={
            "mutual": mutual.sms_name,
            "amount": formatting.money(collection.amount, language),
            "household": household.number,
            "reference": collection.receipt_code,
            "cover": _cover(session, collection, found, language),
        },
        reason="receipt",
        dedupe_key=_receipt_key(collection),
    )
    session.flush()
    return message


def _cover(session: Session, collection: CashCollection, found: Standing, language: str) -> str:
    """The receipt's cover words; money held for an operator promises no cover yet."""
    payment = session.get(Payment, collection.payment_id) if collection.payment_id else None
    return (
        held_text(language)
        if payment is not None and payment.held
        else receipt_status(found, language)
    )


# --- what an agent holds (D21) ------------------------------------------------------------


def cash_position(session: Session, agent: Agent) -> CashPosition:
    collected = _sum(session, CashCollection.amount, CashCollection.agent_id == agent.id)
    remitted = _sum(
        session,
        Remittance.amount,
        Remittance.agent_id == agent.id,
        Remittance.status == RemittanceStatus.CONFIRMED,
    )
    pending = _sum(
        session,
        Remittance.amount,
        Remittance.agent_id == agent.id,
        Remittance.status == RemittanceStatus.PENDING,
    )
    outstanding = ledger.balance(session, agent.mutual_id, ledger.accounts.agent_cash(agent.id))
    oldest = _oldest_unremitted(session, agent.id, remitted)
    return CashPosition(
        collected=collected,
        remitted=remitted,
        pending=pending,
        outstanding=outstanding,
        oldest_on=oldest.collected_on if oldest else None,
        oldest_collection_id=oldest.id if oldest else None,
    )


def _sum(session: Session, column: InstrumentedAttribute[int], *where: ColumnElement[bool]) -> int:
    query = select(func.coalesce(func.sum(column), 0)).where(*where)
    return int(session.scalar(query) or 0)


def _oldest_unremitted(session: Session, agent_id: int, remitted: int) -> CashCollection | None:
    """First in, first out: confirmed remittances pay off the oldest collections first."""
    query = (
        select(CashCollection)
        .where(CashCollection.agent_id == agent_id)
        .order_by(CashCollection.collected_at, CashCollection.id)
    )
    left = remitted
    for collection in session.scalars(query):
        if left < collection.amount:
            return collection
        left -= collection.amount
    return None
