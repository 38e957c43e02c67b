"""`gateway eligibility NUMBER [--on YYYY-MM-DD] [--mutual CODE] [--kind household|beneficiary]
[--json]` (interfaces.md; `--kind` is an addition of issue 14), and `gateway coverage
snapshots [--mutual CODE]`: build the households' coverage snapshots (issue 19)."""

from __future__ import annotations

import datetime as dt
import json

import click

from gateway.cli.context import CliContext
from gateway.cli.lookups import mutual_named
from gateway.services.coverage import KINDS, AmbiguousNumber, coverage, rebuild_all

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
@click.option(
    "--kind",
    type=click.Choice(KINDS),
    help="Look NUMBER up among households only, or beneficiaries only.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def eligibility(
    ctx: CliContext,
    number: str,
    on: dt.datetime | None,
    mutual_code: str | None,
    kind: str | None,
    as_json: bool,
) -> None:
    """Coverage of a beneficiary or household number (D11, D12).

    NUMBER is matched as written; digits typed without letters (e.g. 011 or 01-1) also match
    the one card with those digits. When the number is both a household's and its own
    head's (member number = household number), the answer is for the person (the head):
    give --kind household for the household. An unknown number is status UNKNOWN."""
    day = on.date() if on else ctx.clock.today()
    with ctx.session() as session:
        mutual_id = mutual_named(session, mutual_code).id if mutual_code else None
        try:
            result = coverage(session, number, day, mutual_id, kind)
        except AmbiguousNumber as exc:
            raise click.ClickException(f"{exc}; {_hint(exc, mutual_id, kind)}") from exc
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, sort_keys=True))
        return
    _print_text(result)


def _hint(exc: AmbiguousNumber, mutual_id: int | None, kind: str | None) -> str:
    """What tells the records apart: the mutual, the kind, the number as printed."""
    ways = []
    if exc.mutuals > 1 and mutual_id is None:
        ways.append("--mutual CODE")
    if exc.kinds > 1 and kind is None:
        ways.append("--kind household|beneficiary")
    if any(found.number != exc.number for found in exc.found):
        ways.append("the number as printed on the card (with its letters)")
    return "give " + " or ".join(ways) if ways else "ask the mutual to fix the register"


def _print_text(result: dict[str, object]) -> None:
    line = f"{result['kind']} {result['number']}: {result['status']}"
    if result.get("until"):
        line += f" until {result['until']}"
    if result.get("from"):
        line += f" from {result['from']}"
    if result.get("reason"):
        line += f" ({result['reason']})"
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


@click.group("coverage")
def coverage_group() -> None:
    """Coverage snapshots (issue 19)."""


@coverage_group.command("snapshots")
@click.option("--mutual", "mutual_code", metavar="CODE", help="Only this mutual (default: all).")
@pass_ctx
def snapshots(ctx: CliContext, mutual_code: str | None) -> None:
    """(Re)build every household's coverage snapshot from its full book: once after the
    migration that adds them (until then a hop reads the full book), safe to run any time."""
    with ctx.session() as session:
        mutual_id = mutual_named(session, mutual_code).id if mutual_code else None
        count = rebuild_all(session, mutual_id)
    click.echo(f"coverage snapshots: {count} households")


COMMANDS = [eligibility, coverage_group]
