"""Field enrolments waiting for a manager (D24), as the console tests need them."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from gateway.models import Agent, Enrolment, EnrolmentDependant, EnrolmentStatus, Mutual, Section
from tests.support.console import NOW


def pending(
    db: Session,
    mutual: Mutual,
    agent: Agent,
    name: str,
    section: Section | None = None,
    phone: str = "+22670111111",
    duplicates: list[dict[str, Any]] | None = None,
) -> Enrolment:
    row = Enrolment(
        mutual_id=mutual.id,
        section_id=section.id if section else None,
        agent_id=agent.id,
        status=EnrolmentStatus.PENDING,
        head_name=name,
        head_sex="F",
        head_year=1985,
        head_phone=phone,
        section_chosen=True,
        dependants_expected=1,
        language="fr",
        duplicates=duplicates,
        submitted_at=NOW,
    )
    row.dependants.append(
        EnrolmentDependant(position=1, full_name="Ali Kabore", sex="M", birth_year=2015)
    )
    db.add(row)
    db.flush()
    return row
