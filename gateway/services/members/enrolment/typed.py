"""An enrolment typed in one go (D24: "a manager can also enrol from the console"): every
answer is checked by the rules the USSD applies one answer at a time (answers.py, and the
draft's own setters for the head and the section), all the refusals at once so a form can show
each next to its field; then the enrolment is made PENDING by the USSD's own submission
(`submit_enrolment`: completeness, duplicate flags). The caller approves it (audit.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy.orm import Session

from gateway.models import Agent, Enrolment, EnrolmentDependant, EnrolmentStatus, Mutual
from gateway.services.members.enrolment.answers import (
    MAX_DEPENDANTS,
    BadAnswer,
    clean_name,
    clean_sex,
    clean_year,
)
from gateway.services.members.enrolment.draft import (
    sections_of,
    set_head,
    set_section,
    submit_enrolment,
)

HEAD_FIELDS = ("name", "sex", "year", "phone")
T = TypeVar("T")


@dataclass(frozen=True)
class Dependant:
    """A dependant as typed (unchecked): name, sex (M/F, or 1/2 as on USSD), year of birth."""

    name: str
    sex: str
    year: str


@dataclass(frozen=True)
class Typed:
    """A household as typed on a form, nothing checked yet."""

    name: str
    sex: str
    year: str
    phone: str
    section_id: int | None
    language: str
    dependants: Sequence[Dependant] = field(default_factory=tuple)


class Refused(ValueError):
    """Answers refused: `errors` maps a field (`name`, `phone`, `section`, `dependants`,
    `dep1_name`, `dep2_year`...) to the reason of its BadAnswer (`name`, `name_long`,
    `year`, ...), the keys the USSD re-prompts also use."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(", ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def checked_enrolment(
    session: Session,
    mutual: Mutual,
    typed: Typed,
    *,
    today: dt.date,
    agent: Agent | None = None,
) -> Enrolment:
    """The enrolment the answers make, not added to the session (nothing is written, so it
    can be shown with its possible duplicates first); `Refused` with every bad answer."""
    draft = Enrolment(
        mutual_id=mutual.id,
        agent_id=agent.id if agent else None,
        status=EnrolmentStatus.DRAFT,
        language=typed.language,
    )
    errors: dict[str, str] = {}
    head = (typed.name, typed.sex, typed.year, typed.phone)
    for name, value in zip(HEAD_FIELDS, head, strict=True):
        _check(errors, name, set_head, draft, name, value, today, mutual.country)
    if typed.section_id is None and sections_of(session, mutual.id):
        errors["section"] = "section"  # as on USSD: a mutual with sections asks for one
    else:
        _check(errors, "section", set_section, session, draft, typed.section_id)
    if len(typed.dependants) > MAX_DEPENDANTS:
        errors["dependants"] = "count"
    for position, typed_one in enumerate(typed.dependants, start=1):
        draft.dependants.append(_dependant(errors, position, typed_one, today))
    draft.dependants_expected = len(draft.dependants)
    if errors:
        raise Refused(errors)
    return draft


def create_enrolment(session: Session, enrolment: Enrolment, now: dt.datetime) -> Enrolment:
    """A checked enrolment written and made PENDING, flagged with its possible duplicates."""
    session.add(enrolment)
    session.flush()
    return submit_enrolment(session, enrolment, now)


def _dependant(
    errors: dict[str, str], position: int, typed: Dependant, today: dt.date
) -> EnrolmentDependant:
    prefix = f"dep{position}_"
    return EnrolmentDependant(
        position=position,
        full_name=_check(errors, prefix + "name", clean_name, typed.name) or "",
        sex=_check(errors, prefix + "sex", clean_sex, typed.sex),
        birth_year=_check(errors, prefix + "year", clean_year, typed.year, today),
    )


def _check(errors: dict[str, str], name: str, check: Callable[..., T], *args: object) -> T | None:
    """`check(*args)`, or None with its refusal's reason kept under `name`."""
    try:
        return check(*args)
    except BadAnswer as exc:
        errors[name] = exc.reason
        return None
