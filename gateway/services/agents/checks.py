"""Facility checks (D26): each beneficiary check by an agent on USSD (D13) is recorded once:
facility, agent, card number, day, the status answered; listed per facility and day."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.clock import local_date
from gateway.models import Agent, FacilityCheck, Mutual, Section


@dataclass(frozen=True)
class CheckRow:
    facility: str | None
    agent: str
    card_number: str
    day: dt.date
    at: dt.datetime
    status: str


def record_check(
    session: Session,
    *,
    agent_id: int,
    card_number: str,
    beneficiary_id: int | None,
    status: str,
    now: dt.datetime,
    key: str,
) -> bool:
    """Record one check; `key` is the USSD step (the same when a hop is replayed), so a
    duplicated hop records nothing more. Returns whether a row was added."""
    if session.scalar(select(FacilityCheck.id).where(FacilityCheck.key == key)) is not None:
        return False
    agent = session.get(Agent, agent_id)
    if agent is None:
        return False
    section = session.get(Section, agent.section_id) if agent.section_id else None
    mutual = session.get(Mutual, agent.mutual_id)
    assert mutual is not None
    row = FacilityCheck(
        mutual_id=agent.mutual_id,
        agent_id=agent.id,
        facility=section.name if section else None,
        card_number=card_number.strip()[:32],
        beneficiary_id=beneficiary_id,
        checked_on=local_date(now, mutual.timezone),
        checked_at=now,
        status=status,
        key=key[:64],
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return False  # the same step recorded concurrently
    return True


def list_checks(
    session: Session, mutual_id: int, *, facility: str | None = None, day: dt.date | None = None
) -> list[CheckRow]:
    """D26: a mutual's checks, oldest first, optionally for one facility and one day."""
    query = (
        select(FacilityCheck, Agent.name)
        .join(Agent, Agent.id == FacilityCheck.agent_id)
        .where(FacilityCheck.mutual_id == mutual_id)
    )
    if facility is not None:
        query = query.where(FacilityCheck.facility == facility)
    if day is not None:
        query = query.where(FacilityCheck.checked_on == day)
    rows = session.execute(query.order_by(FacilityCheck.checked_at, FacilityCheck.id))
    return [
        CheckRow(c.facility, name, c.card_number, c.checked_on, c.checked_at, c.status)
        for c, name in rows
    ]
