"""`gateway checks --mutual CODE [--facility F] [--day YYYY-MM-DD] [--json]`: the beneficiary
checks facility staff made on USSD (D26), per facility and day."""

from __future__ import annotations

import datetime as dt
import json

import click

from gateway.cli.context import CliContext
from gateway.cli.lookups import mutual_named
from gateway.services.agents import list_checks

pass_ctx = click.make_pass_decorator(CliContext)


@click.command("checks")
@click.option("--mutual", "code", required=True, metavar="CODE", help="Code of the mutual.")
@click.option("--facility", default=None, help="Only this facility (the agent's section).")
@click.option("--day", "day_text", default=None, metavar="YYYY-MM-DD", help="Only this day.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def checks(
    ctx: CliContext, code: str, facility: str | None, day_text: str | None, as_json: bool
) -> None:
    """List facility checks (D26): facility, agent, card number, day, status answered."""
    day = _day(day_text) if day_text else None
    with ctx.session() as session:
        mutual = mutual_named(session, code)
        rows = list_checks(session, mutual.id, facility=facility, day=day)
    if as_json:
        items = [
            {
                "facility": r.facility,
                "agent": r.agent,
                "card_number": r.card_number,
                "day": r.day.isoformat(),
                "at": r.at.isoformat(),
                "status": r.status,
            }
            for r in rows
        ]
        click.echo(json.dumps(items))
        return
    for r in rows:
        where = r.facility or "-"
        click.echo(f"{r.day}  {where}  {r.agent}  {r.card_number}  {r.status}")
    click.echo(f"{len(rows)} check(s)")


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise click.ClickException(f"--day {text!r}: a date YYYY-MM-DD") from exc


COMMANDS = [checks]
