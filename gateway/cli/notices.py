"""`gateway notices run`: the coverage-start notices due now (D9, D16, D18), what the hourly
coverage-starts job does, on demand. The messages are queued in the outbox; the worker's
sms-dispatch sweeper sends them."""

from __future__ import annotations

import datetime as dt
import json

import click

from gateway.cli.context import CliContext
from gateway.services.notices import send_cover_starts

pass_ctx = click.make_pass_decorator(CliContext)


def _parse_now(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        now = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"not an ISO datetime: {value!r}", param_hint="--now") from None
    return now if now.tzinfo else now.replace(tzinfo=dt.UTC)


@click.group("notices")
def notices() -> None:
    """Transactional notices to households (coverage starts)."""


@notices.command("run")
@click.option(
    "--now",
    "now_text",
    metavar="ISO-DATETIME",
    help="Run as if it were this moment (UTC unless an offset is given); default: now.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def run(ctx: CliContext, now_text: str | None, as_json: bool) -> None:
    """Queue every coverage-start SMS due now; safe to run twice (one per household and day)."""
    now = _parse_now(now_text) or ctx.clock.now()
    with ctx.session() as session:
        counts = send_cover_starts(session, now).as_dict()
    if as_json:
        click.echo(json.dumps({"now": now.isoformat(), **counts}))
        return
    click.echo(f"coverage starts at {now.isoformat()}")
    for name, value in counts.items():
        click.echo(f"{name.replace('_', ' ')}: {value}")


COMMANDS = [notices]
