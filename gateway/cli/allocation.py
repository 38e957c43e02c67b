"""`gateway allocation run [--mutual CODE]`: apply usable household credit now (D3, D7), what
the daily job does as a safety net."""

from __future__ import annotations

import click

from gateway.cli.context import CliContext
from gateway.cli.lookups import mutual_named
from gateway.cli.moments import echo_counts, parse_now, run_options
from gateway.services.coverage import allocate_due
from gateway.services.members import apply_due_product_changes

pass_ctx = click.make_pass_decorator(CliContext)


@click.group("allocation")
def allocation_group() -> None:
    """Allocation of household credit to periods (D7)."""


@allocation_group.command("run")
@click.option("--mutual", "mutual_code", metavar="CODE", help="Only this mutual (default: all).")
@run_options
@pass_ctx
def run(ctx: CliContext, mutual_code: str | None, now_text: str | None, as_json: bool) -> None:
    """Allocate every household's credit that now covers whole periods, and the automatic
    periods of fully subsidised households (D3), as of today; product changes due by today
    (D23) first."""
    now = parse_now(now_text) or ctx.clock.now()
    with ctx.session() as session:
        mutual_id = mutual_named(session, mutual_code).id if mutual_code is not None else None
        switched = apply_due_product_changes(session, now=now, mutual_id=mutual_id)
        made = allocate_due(session, on=now.date(), mutual_id=mutual_id)
    counts = {"product_changes": switched, "allocations": made}
    echo_counts("allocation run", now, counts, as_json)


COMMANDS = [allocation_group]
