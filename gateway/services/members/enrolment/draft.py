"""A field enrolment being typed on USSD (D24): one DRAFT row per collector, written answer by
answer, so that a dropped session loses nothing and the next dial offers to continue it. Each
setter checks its answer (answers.py) before writing; `next_step` says which question comes
next, from what the draft holds (the USSD resumes there)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import Agent, Enrolment, EnrolmentDependant, EnrolmentStatus, Section
from gateway.services.members.enrolment.answers import (
    BadAnswer,
    clean_count,
    clean_name,
    clean_phone,
    clean_sex,
    clean_year,
)
from gateway.services.members.enrolment.duplicates import find_duplicates

STEPS = (
    "name",
    "sex",
    "year",
    "phone",
    "section",
    "count",
    "dep_name",
    "dep_sex",
    "dep_year",
    "summary",
)


def draft_of(session: Session, agent: Agent) -> Enrolment | None:
    query = select(Enrolment).where(
        Enrolment.agent_id == agent.id, Enrolment.status == EnrolmentStatus.DRAFT
    )
    return session.scalars(query).one_or_none()


def draft_started(draft: Enrolment | None) -> bool:
    """A draft with at least one answer (an empty one is simply started again)."""
    return draft is not None and draft.head_name is not None


def start_draft(session: Session, agent: Agent, language: str) -> Enrolment:
    """A new, empty draft for the collector; any earlier draft is dropped."""
    cancel_draft(session, agent)
    draft = Enrolment(
        mutual_id=agent.mutual_id,
        agent_id=agent.id,
        section_id=None,
        status=EnrolmentStatus.DRAFT,
        language=language,
    )
    session.add(draft)
    session.flush()
    return draft


def cancel_draft(session: Session, agent: Agent) -> None:
    old = draft_of(session, agent)
    if old is not None:
        session.delete(old)
        session.flush()


def sections_of(session: Session, mutual_id: int) -> list[Section]:
    """The mutual's sections in the order the USSD lists them."""
    query = select(Section).where(Section.mutual_id == mutual_id).order_by(Section.id)
    return list(session.scalars(query))


def next_step(session: Session, draft: Enrolment) -> str:
    """The first question the draft has no answer to (`summary` once complete)."""
    head = (draft.head_name, draft.head_sex, draft.head_year, draft.head_phone)
    for step, value in zip(STEPS, head, strict=False):
        if value is None:
            return step
    if not draft.section_chosen and sections_of(session, draft.mutual_id):
        return "section"
    if draft.dependants_expected is None:
        return "count"
    last = draft.dependants[-1] if draft.dependants else None
    if last is not None and last.sex is None:
        return "dep_sex"
    if last is not None and last.birth_year is None:
        return "dep_year"
    if len(draft.dependants) < draft.dependants_expected:
        return "dep_name"
    return "summary"


def set_head(draft: Enrolment, field: str, text: str, today: dt.date, country: str) -> None:
    """One of the head's answers: name, sex, year or phone."""
    if field == "name":
        draft.head_name = clean_name(text)
    elif field == "sex":
        draft.head_sex = clean_sex(text)
    elif field == "year":
        draft.head_year = clean_year(text, today)
    elif field == "phone":
        draft.head_phone = clean_phone(text, country)
    else:
        raise ValueError(f"unknown field {field!r}")


def set_section(session: Session, draft: Enrolment, section_id: int | None) -> None:
    if section_id is not None:
        section = session.get(Section, section_id)
        if section is None or section.mutual_id != draft.mutual_id:
            raise BadAnswer("section", f"no section {section_id} in this mutual")
    draft.section_id, draft.section_chosen = section_id, True


def set_count(session: Session, draft: Enrolment, text: str) -> int:
    """How many dependants; typing fewer than already entered drops the extra ones."""
    count = clean_count(text)
    draft.dependants_expected = count
    for extra in draft.dependants[count:]:
        draft.dependants.remove(extra)
    session.flush()
    return count


def dependant_name(session: Session, draft: Enrolment, text: str) -> EnrolmentDependant:
    """A dependant's name: the one being typed (back from its sex) or the next one."""
    name = clean_name(text)
    last = draft.dependants[-1] if draft.dependants else None
    if last is not None and (last.sex is None or last.birth_year is None):
        last.full_name = name
        return last
    if len(draft.dependants) >= (draft.dependants_expected or 0):
        raise BadAnswer("count", "every dependant announced is already entered")
    row = EnrolmentDependant(position=len(draft.dependants) + 1, full_name=name)
    draft.dependants.append(row)
    session.flush()
    return row


def dependant_answer(draft: Enrolment, field: str, text: str, today: dt.date) -> None:
    """The sex or year of birth of the dependant being typed (the last one)."""
    if not draft.dependants:
        raise BadAnswer("count", "no dependant is being entered")
    last = draft.dependants[-1]
    if field == "sex":
        last.sex = clean_sex(text)
    elif field == "year":
        last.birth_year = clean_year(text, today)
    else:
        raise ValueError(f"unknown field {field!r}")


def submit_enrolment(session: Session, draft: Enrolment, now: dt.datetime) -> Enrolment:
    """D24: the complete draft becomes PENDING, flagged with what it may duplicate."""
    if next_step(session, draft) != "summary":
        raise BadAnswer("incomplete", "the enrolment is not complete")
    draft.duplicates = find_duplicates(session, draft) or None
    draft.status = EnrolmentStatus.PENDING
    draft.submitted_at = now
    session.flush()
    return draft
