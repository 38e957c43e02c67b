"""`gateway allocation run [--mutual CODE]`: apply usable household credit now (D3, D7), what
the daily job does as a safety net."""

from __future__ import annotations

import click
from sqlalchemy import select

from gateway.cli.context import CliContext
from gateway.cli.moments import echo_counts, parse_now, run_options
from gateway.models import Mutual
from gateway.services.coverage import allocate_due

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
    periods of fully subsidised households (D3), as of today."""
    now = parse_now(now_text) or ctx.clock.now()
    with ctx.session() as session:
        mutual_id = None
        if mutual_code is not None:
            mutual_id = session.scalar(select(Mutual.id).where(Mutual.code == mutual_code))
            if mutual_id is None:
                raise click.BadParameter(f"unknown mutual {mutual_code!r}", param_hint="--mutual")
        made = allocate_due(session, on=now.date(), mutual_id=mutual_id)
    echo_counts("allocation run", now, {"allocations": made}, as_json)


COMMANDS = [allocation_group]
