"""`gateway eligibility NUMBER [--on YYYY-MM-DD] [--json]`."""

from __future__ import annotations

import datetime as dt
import json

import click

from gateway.cli.context import CliContext
from gateway.services.coverage import AmbiguousNumber, coverage, mutual_by_code

pass_ctx = click.make_pass_decorator(CliContext)


@click.command("eligibility")
@click.argument("number")
@click.option(
    "--on",
    "on",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Date to check (default: today), with every payment recorded so far.",
)
@click.option("--mutual", "mutual_code", help="Mutual code, when numbers repeat across mutuals.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def eligibility(
    ctx: CliContext, number: str, on: dt.datetime | None, mutual_code: str | None, as_json: bool
) -> None:
    """Coverage of a beneficiary or household number (D11, D12)."""
    day = on.date() if on else ctx.clock.today()
    with ctx.session() as session:
        mutual_id = None
        if mutual_code:
            mutual = mutual_by_code(session, mutual_code)
            if mutual is None:
                raise click.ClickException(f"unknown mutual: {mutual_code}")
            mutual_id = mutual.id
        try:
            result = coverage(session, number, day, mutual_id)
        except AmbiguousNumber as exc:
            raise click.ClickException(f"{exc}; give --mutual or the full number") from exc
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, sort_keys=True))
        return
    _print_text(result)


def _print_text(result: dict[str, object]) -> None:
    line = f"{result['kind']} {result['number']}: {result['status']}"
    if result.get("until"):
        line += f" until {result['until']}"
    if result.get("from"):
        line += f" from {result['from']}"
    click.echo(line)
    if result.get("amount_due"):
        click.echo(f"amount due: {result['amount_due']} FCFA")
    offered = result.get("offered")
    if isinstance(offered, dict) and offered["kind"] != "none":
        click.echo(f"offered ({offered['kind']}): {offered['amount']} FCFA for {offered['period']}")
    members = result.get("members")
    if isinstance(members, list) and result["kind"] == "household":
        for member in members:
            dates = " ".join(f"{k} {member[k]}" for k in ("until", "from") if member[k])
            click.echo(f"  {member['number']}: {member['status']} {dates}".rstrip())


COMMANDS = [eligibility]
