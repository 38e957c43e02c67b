"""`gateway notices run`: the coverage-start notices due now (D9, D16, D18), what the hourly
coverage-starts job does, on demand. The messages are queued in the outbox; the worker's
sms-dispatch sweeper sends them."""

from __future__ import annotations

import click

from gateway.cli.context import CliContext
from gateway.cli.moments import echo_counts, parse_now, run_options
from gateway.services.notices import send_cover_starts

pass_ctx = click.make_pass_decorator(CliContext)


@click.group("notices")
def notices() -> None:
    """Transactional notices to households (coverage starts)."""


@notices.command("run")
@run_options
@pass_ctx
def run(ctx: CliContext, now_text: str | None, as_json: bool) -> None:
    """Queue every coverage-start SMS due now; safe to run twice (one per household and day)."""
    now = parse_now(now_text) or ctx.clock.now()
    with ctx.session() as session:
        counts = send_cover_starts(session, now).as_dict()
    echo_counts("coverage starts", now, counts, as_json)


COMMANDS = [notices]
