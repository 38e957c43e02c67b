"""What several commands look up by the code an operator types, with one wording for a miss."""

from __future__ import annotations

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import Mutual


def mutual_named(session: Session, code: str) -> Mutual:
    """The mutual with that code, or a one-line error naming the code."""
    mutual = session.scalars(select(Mutual).where(Mutual.code == code)).one_or_none()
    if mutual is None:
        raise click.ClickException(f"unknown mutual {code!r}")
    return mutual
