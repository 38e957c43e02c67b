"""`gateway members event NUMBER TYPE --on DATE --reason TEXT [options]`: one dated household
event (D23), applied with its money at once (D3-D7), in one transaction (issue 18); and
`gateway members history NUMBER`: the events kept for a household."""

from __future__ import annotations

import datetime as dt
import getpass
import json
from typing import Any

import click
from sqlalchemy.orm import Session

from gateway.cli.context import CliContext
from gateway.cli.data import members_group
from gateway.cli.lookups import mutual_named
from gateway.models import Beneficiary, Household
from gateway.services.coverage import AmbiguousNumber, find_number
from gateway.services.members import (
    ABOUT_BENEFICIARY,
    EVENT_TYPES,
    Change,
    EventError,
    household_events,
    record_event,
)

pass_ctx = click.make_pass_decorator(CliContext)
# Options that carry the type's data (the service checks which ones each type needs).
DATA_OPTIONS = {
    "name": "name",
    "sex": "sex",
    "birth_date": "birth_date",
    "relationship": "relationship",
    "new_number": "number",
    "head": "head",
    "former_relation": "former_relation",
    "category": "category",
    "certificate": "certificate",
    "product": "product",
}
FULL_NAME_TYPES = ("correct",)


@members_group.command("event")
@click.argument("number")
@click.argument("event_type", metavar="TYPE", type=click.Choice(EVENT_TYPES))
@click.option("--on", "on_text", metavar="YYYY-MM-DD", help="Effective date (default today).")
@click.option("--reason", default="", help="Why (required, kept with the event).")
@click.option("--mutual", "code", metavar="CODE", help="The mutual (when numbers collide).")
@click.option("--by", "by", default=None, help="Who records it (default: the system user).")
@click.option("--name", default=None, help="add-dependant, correct: full name.")
@click.option("--sex", default=None, help="add-dependant, correct: M or F.")
@click.option("--birth-date", default=None, help="add-dependant, correct: YYYY-MM-DD.")
@click.option("--relationship", default=None, help="add-dependant: child (default), spouse...")
@click.option("--number", "new_number", default=None, help="add-dependant: new member number.")
@click.option("--head", default=None, help="change-head: the new head's member number.")
@click.option("--former-relation", default=None, help="change-head: old head's (default other).")
@click.option("--category", default=None, help="category: the new category.")
@click.option("--certificate", default=None, help="category: the funder's certificate reference.")
@click.option("--product", default=None, help="product: the new product's code.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def members_event(
    ctx: CliContext,
    /,
    number: str,
    event_type: str,
    on_text: str | None,
    reason: str,
    code: str | None,
    by: str | None,
    as_json: bool,
    **options: str | None,
) -> None:
    """Record one event of a household (D23). NUMBER is the beneficiary's number, or the
    household's for add-dependant, change-head, category and product."""
    now = ctx.clock.now()
    on = _date(on_text) if on_text else now.date()
    if not reason.strip():
        raise click.ClickException("--reason is required (D23: who recorded it and why)")
    data: dict[str, Any] = {key: options[opt] for opt, key in DATA_OPTIONS.items() if options[opt]}
    if "name" in data and event_type in FULL_NAME_TYPES:
        data["full_name"] = data.pop("name")
    with ctx.session() as session:
        household, beneficiary = _target(session, number, event_type, code)
        change = Change(event_type, on, reason, by or _user(), beneficiary, data)
        try:
            recorded = record_event(session, household, change, now=now)
        except EventError as exc:
            raise click.ClickException(str(exc)) from exc
        event = recorded.event
        out = {
            "id": event.id,
            "household": household.number,
            "beneficiary": beneficiary.number if beneficiary else None,
            "type": event.type,
            "effective_on": event.effective_on.isoformat(),
            "created": recorded.created,
            "payload": {k: v for k, v in event.payload.items() if k != "digest"},
        }
    if as_json:
        click.echo(json.dumps(out))
        return
    what = "recorded" if recorded.created else "already recorded"
    click.echo(f"{event_type} {what} for {number} on {out['effective_on']} (event {out['id']})")


@members_group.command("history")
@click.argument("number")
@click.option("--mutual", "code", metavar="CODE", help="The mutual (when numbers collide).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def members_history(ctx: CliContext, /, number: str, code: str | None, as_json: bool) -> None:
    """The dated events of a household (D23), oldest first: NUMBER is the household's or one
    of its members'."""
    with ctx.session() as session:
        mutual_id = mutual_named(session, code).id if code else None
        try:
            found = find_number(session, number, mutual_id)
        except AmbiguousNumber as exc:
            raise click.ClickException(f"{number} is ambiguous: give --mutual") from exc
        if found is None:
            raise click.ClickException(f"no household or member numbered {number!r}")
        numbers = {b.id: b.number for b in found.household.beneficiaries}
        rows = [
            {
                "id": e.id,
                "type": e.type,
                "effective_on": e.effective_on.isoformat(),
                "beneficiary": numbers.get(e.beneficiary_id) if e.beneficiary_id else None,
                "reason": e.reason,
                "recorded_by": e.recorded_by,
                "recorded_at": e.recorded_at.isoformat(),
                "payload": {k: v for k, v in e.payload.items() if k != "digest"},
            }
            for e in household_events(session, found.household)
        ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    for r in rows:
        who = f" {r['beneficiary']}" if r["beneficiary"] else ""
        click.echo(f"{r['effective_on']} {r['type']}{who}: {r['reason']} ({r['recorded_by']})")
    click.echo(f"{len(rows)} event(s)")


def _target(
    session: Session, number: str, event_type: str, code: str | None
) -> tuple[Household, Beneficiary | None]:
    mutual_id = mutual_named(session, code).id if code else None
    kind = "beneficiary" if event_type in ABOUT_BENEFICIARY else "household"
    try:
        found = find_number(session, number, mutual_id, kind=kind)
    except AmbiguousNumber as exc:
        raise click.ClickException(f"{number} is in several mutuals: give --mutual") from exc
    if found is None:
        raise click.ClickException(f"no {kind} numbered {number!r}")
    return found.household, found.beneficiary if kind == "beneficiary" else None


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise click.ClickException(f"--on {text!r}: a date YYYY-MM-DD") from exc


def _user() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


COMMANDS: list[click.Command] = []
