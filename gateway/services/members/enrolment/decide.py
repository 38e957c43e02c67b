"""A manager's decision on a field enrolment (D24): approval creates the household and its
beneficiaries through the events service (an `enrol` event, D23) with numbers generated per
mutual with a check digit, and queues SMS with the numbers for the head and the collector;
rejection queues the collector an SMS with the reason. The caller commits (one transaction
with the operator_actions row); send jobs are enqueued after that commit."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.clock import zone
from gateway.models import Enrolment, EnrolmentStatus, Household, HouseholdPhone, Product
from gateway.services.members.enrolment.numbers import member_numbers, next_household_number
from gateway.services.members.enrolment.texts import approval_sms, rejection_sms
from gateway.services.members.events import Change, record_event

REASON_MAX = 300


class EnrolmentError(ValueError):
    """A decision that cannot be taken (not pending, no reason); the message says why."""


@dataclass(frozen=True)
class Approved:
    enrolment: Enrolment
    household: Household
    numbers: list[str]  # the members', head first
    sms_ids: list[int]


def approve(session: Session, enrolment: Enrolment, *, by: str, now: dt.datetime) -> Approved:
    """D24: PENDING -> APPROVED with a new household, its members and their numbers."""
    _pending(enrolment)
    mutual = enrolment.mutual
    product = session.scalars(
        select(Product).where(Product.mutual_id == mutual.id).order_by(Product.id).limit(1)
    ).first()
    if product is None:
        raise EnrolmentError(f"mutual {mutual.code} has no product to enrol on")
    number = next_household_number(session, mutual.id)
    on = min(now.astimezone(zone(mutual.timezone)).date(), now.date())
    household = Household(
        mutual_id=mutual.id,
        number=number,
        digits=number,
        section_id=enrolment.section_id,
        product_id=product.id,
        category="standard",
        category_since=on,
        language=enrolment.language,
    )
    household.phones.append(HouseholdPhone(msisdn=enrolment.head_phone or "", is_primary=True))
    session.add(household)
    session.flush()
    people = [
        (enrolment.head_name or "", enrolment.head_sex, enrolment.head_year, "head"),
        *((d.full_name, d.sex, d.birth_year, "other") for d in enrolment.dependants),
    ]
    numbers = member_numbers(number, len(people))
    members = [
        {
            "number": n,
            "name": name,
            "sex": sex,
            "birth_date": dt.date(year, 1, 1).isoformat() if year else None,
            "relationship": relation,
        }
        for n, (name, sex, year, relation) in zip(numbers, people, strict=True)
    ]
    change = Change(
        "enrol",
        on,
        f"field enrolment #{enrolment.id}",
        by,
        data={"members": members, "enrolment": enrolment.id},
    )
    record_event(session, household, change, now=now)
    _decided(enrolment, EnrolmentStatus.APPROVED, by, now)
    enrolment.household_id = household.id
    session.flush()
    sms = approval_sms(session, enrolment, household, list(zip(numbers, people, strict=True)))
    return Approved(enrolment, household, numbers, sms)


def reject(
    session: Session, enrolment: Enrolment, *, by: str, reason: str, now: dt.datetime
) -> list[int]:
    """D24: PENDING -> REJECTED with a reason the collector receives by SMS."""
    _pending(enrolment)
    reason = " ".join(reason.split())[:REASON_MAX]
    if not reason:
        raise EnrolmentError("a reason is required to reject an enrolment")
    _decided(enrolment, EnrolmentStatus.REJECTED, by, now)
    enrolment.decision_reason = reason
    session.flush()
    return rejection_sms(session, enrolment)


def pending_enrolments(session: Session, mutual_id: int | None = None) -> list[Enrolment]:
    """PENDING enrolments, oldest first (the order a manager works through them)."""
    query = select(Enrolment).where(Enrolment.status == EnrolmentStatus.PENDING)
    if mutual_id is not None:
        query = query.where(Enrolment.mutual_id == mutual_id)
    return list(session.scalars(query.order_by(Enrolment.id)))


def _pending(enrolment: Enrolment) -> None:
    if enrolment.status != EnrolmentStatus.PENDING:
        raise EnrolmentError(f"enrolment #{enrolment.id} is {enrolment.status}, not PENDING")


def _decided(enrolment: Enrolment, status: EnrolmentStatus, by: str, now: dt.datetime) -> None:
    enrolment.status = status
    enrolment.decided_by = (by.strip() or "unknown")[:100]
    enrolment.decided_at = now
