"""Remittances (D21): a collector declares cash handed to the mutual, deposited or transferred;
a supervisor of the same mutual, never the declarer, confirms it, which books Dr asset:bank /
Cr asset:agent_cash once (payments.md, Ledger), or rejects it with a reason (the money never
arrived, or not that amount), which leaves the cash with the agent, who may declare again.
Each decision keeps who, when and why. Agents holding cash too long are flagged (alert)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.lib.phones import mask_msisdn
from gateway.models import Agent, Mutual, Remittance, RemittanceStatus
from gateway.models.cash import REMITTANCE_METHODS
from gateway.services import ledger
from gateway.services.agents.cash import (
    CashError,
    cash_position,
    check_collector,
    local_day,
)
from gateway.services.alerts import raise_alert

NOTE_LEN = 200


@dataclass(frozen=True)
class Decision:
    """A supervisor's confirmation or rejection of a remittance."""

    remittance: Remittance
    created: bool  # False: it was already decided so (by this call's twin or earlier)


def declare_remittance(
    session: Session,
    *,
    agent: Agent,
    amount: int,
    request_key: str,
    now: dt.datetime,
    method: str = "deposit",
) -> tuple[Remittance, bool]:
    """A PENDING remittance, once per request key; at most the cash not yet declared."""
    found = _by_key(session, request_key)
    if found is not None:
        return found, False
    check_collector(agent)
    if method not in REMITTANCE_METHODS:
        raise CashError("method", f"method must be one of {', '.join(REMITTANCE_METHODS)}")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise CashError("zero", f"amount must be a positive whole number of XOF, got {amount!r}")
    available = cash_position(session, agent).available
    if amount > available:
        raise CashError("over", f"amount {amount} is above the cash held ({available} XOF)")
    remittance = Remittance(
        mutual_id=agent.mutual_id,
        agent_id=agent.id,
        amount=amount,
        status=RemittanceStatus.PENDING,
        method=method,
        request_key=request_key,
        declared_at=now,
    )
    try:
        with session.begin_nested():
            session.add(remittance)
    except IntegrityError:
        found = _by_key(session, request_key)
        if found is None:
            raise
        return found, False
    return remittance, True


def confirm_remittance(
    session: Session,
    *,
    remittance_id: int,
    supervisor: Agent,
    now: dt.datetime,
    note: str | None = None,
) -> Decision:
    """D21: the row is locked (FOR UPDATE on PostgreSQL), so two supervisors confirming at
    once make one ledger transaction; the second sees it confirmed. A rejected remittance
    cannot be confirmed (the agent declares the cash again)."""
    remittance = _locked(session, remittance_id, supervisor)
    if remittance.status == RemittanceStatus.CONFIRMED:
        return Decision(remittance, False)
    if remittance.status == RemittanceStatus.REJECTED:
        raise CashError("rejected", f"remittance {remittance_id} was rejected; nothing changed")
    mutual = session.get_one(Mutual, remittance.mutual_id)
    key = f"remittance:{remittance.id}"
    ledger.post(
        session,
        mutual_id=remittance.mutual_id,
        key=key,
        kind="remittance",
        occurred_on=local_day(mutual, now),
        lines=[
            (ledger.accounts.bank(), remittance.amount),
            (ledger.accounts.agent_cash(remittance.agent_id), -remittance.amount),
        ],
        description=f"remittance {remittance.id} of agent {remittance.agent_id}",
        meta={"confirmed_by": supervisor.id},
    )
    remittance.status = RemittanceStatus.CONFIRMED
    remittance.confirmed_by_id = supervisor.id
    remittance.confirmed_at = now
    remittance.note = _note(note)
    remittance.ledger_key = key
    session.flush()
    return Decision(remittance, True)


def reject_remittance(
    session: Session, *, remittance_id: int, supervisor: Agent, now: dt.datetime, reason: str
) -> Decision:
    """D21: the money did not arrive (or not that amount). Same lock and same supervisors as
    a confirmation; nothing is posted, so the cash stays the agent's and can be declared
    again. A confirmed remittance cannot be rejected: its cash is in the bank's books."""
    why = _note(reason)
    if why is None:
        raise CashError("reason", "a rejection needs a reason")
    remittance = _locked(session, remittance_id, supervisor)
    if remittance.status == RemittanceStatus.REJECTED:
        return Decision(remittance, False)
    if remittance.status == RemittanceStatus.CONFIRMED:
        raise CashError("confirmed", f"remittance {remittance_id} is already confirmed")
    remittance.status = RemittanceStatus.REJECTED
    remittance.rejected_by_id = supervisor.id
    remittance.rejected_at = now
    remittance.note = why
    session.flush()
    return Decision(remittance, True)


def _locked(session: Session, remittance_id: int, supervisor: Agent) -> Remittance:
    remittance = session.scalars(
        select(Remittance)
        .where(Remittance.id == remittance_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if remittance is None:
        raise CashError("unknown", f"no remittance {remittance_id}")
    _check_supervisor(supervisor, remittance)
    return remittance


def _note(text: str | None) -> str | None:
    cleaned = " ".join((text or "").split())
    return cleaned[:NOTE_LEN] or None


def _check_supervisor(supervisor: Agent, remittance: Remittance) -> None:
    if not supervisor.active or supervisor.role != "supervisor":
        raise CashError("role", f"{mask_msisdn(supervisor.msisdn)} is not an active supervisor")
    if supervisor.mutual_id != remittance.mutual_id:
        raise CashError("mutual", "the supervisor is not of the remittance's mutual")
    if supervisor.id == remittance.agent_id:
        raise CashError("self", "a supervisor cannot decide on their own remittance")
    section = supervisor.section_id
    if section is not None and remittance.agent.section_id != section:
        raise CashError("section", "the remittance's agent is not of the supervisor's section")


def list_remittances(
    session: Session, *, mutual_id: int | None = None, status: RemittanceStatus | None = None
) -> list[Remittance]:
    query = select(Remittance)
    if mutual_id is not None:
        query = query.where(Remittance.mutual_id == mutual_id)
    if status is not None:
        query = query.where(Remittance.status == status)
    return list(session.scalars(query.order_by(Remittance.id)))


def pending_for(session: Session, supervisor: Agent, limit: int = 20) -> list[Remittance]:
    """What this supervisor may confirm: PENDING, their mutual (and section), not their own."""
    query = (
        select(Remittance)
        .join(Agent, Agent.id == Remittance.agent_id)
        .where(
            Remittance.mutual_id == supervisor.mutual_id,
            Remittance.status == RemittanceStatus.PENDING,
            Remittance.agent_id != supervisor.id,
        )
    )
    if supervisor.section_id is not None:
        query = query.where(Agent.section_id == supervisor.section_id)
    return list(session.scalars(query.order_by(Remittance.declared_at, Remittance.id).limit(limit)))


def remittance_row(remittance: Remittance) -> dict[str, object]:
    """What `gateway agents remittances --json` prints for one remittance."""
    confirmer, rejecter = remittance.confirmed_by, remittance.rejected_by
    return {
        "id": remittance.id,
        "agent": remittance.agent.name,
        "agent_phone": mask_msisdn(remittance.agent.msisdn),
        "amount": remittance.amount,
        "method": remittance.method,
        "status": remittance.status,
        "declared_at": remittance.declared_at.isoformat(),
        "confirmed_by": confirmer.name if confirmer else None,
        "confirmed_at": remittance.confirmed_at.isoformat() if remittance.confirmed_at else None,
        "rejected_by": rejecter.name if rejecter else None,
        "rejected_at": remittance.rejected_at.isoformat() if remittance.rejected_at else None,
        "note": remittance.note,
    }


def _by_key(session: Session, request_key: str) -> Remittance | None:
    query = select(Remittance).where(Remittance.request_key == request_key)
    return session.scalars(query).one_or_none()


# --- cash held too long -------------------------------------------------------------------


def flag_stale_cash(session: Session, now: dt.datetime) -> int:
    """An alert per agent whose oldest unremitted cash is older than the mutual's
    `cash_max_days`, once per collection and age bucket (1x, 2x, 3x... the limit), so a
    job running every day raises a new alert only when things get worse. Returns new alerts."""
    raised = 0
    query = select(Agent).where(Agent.role.in_(("collector", "supervisor"))).order_by(Agent.id)
    for agent in session.scalars(query):
        position = cash_position(session, agent)
        if position.outstanding <= 0 or position.oldest_on is None:
            continue
        limit = max(agent.mutual.cash_max_days, 1)
        age = position.age_days(local_day(agent.mutual, now))
        if age <= limit:
            continue
        bucket = age // limit
        _, created = raise_alert(
            session,
            kind="agent_cash_age",
            subject=f"agent:{agent.id}",
            detail=(
                f"agent {agent.name} ({mask_msisdn(agent.msisdn)}) holds "
                f"{position.outstanding} XOF, oldest collected {position.oldest_on} "
                f"({age} days, limit {limit})"
            ),
            now=now,
            mutual_id=agent.mutual_id,
            key=f"agent_cash_age:{agent.id}:{position.oldest_collection_id}:{bucket}",
        )
        raised += created
    return raised
