"""`gateway outbox`: the SMS outbox with statuses, newest first (interfaces.md)."""

from __future__ import annotations

import json

import click

from gateway.cli.context import CliContext
from gateway.lib.phones import InvalidPhone, normalize_msisdn
from gateway.services import messaging

pass_ctx = click.make_pass_decorator(CliContext)


@click.command("outbox")
@click.option("--phone", metavar="P", help="Only this phone (international notation).")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def outbox(ctx: CliContext, phone: str | None, limit: int, as_json: bool) -> None:
    """SMS outbox: what was queued and sent, with statuses."""
    if phone is not None:
        try:
            phone = normalize_msisdn(phone, "ZZ")
        except InvalidPhone as exc:
            raise click.BadParameter(str(exc), param_hint="--phone") from None
    with ctx.session() as session:
        rows = [messaging.outbox_row(m) for m in messaging.recent_messages(session, phone, limit)]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    if not rows:
        click.echo("outbox empty")
    for row in rows:
        click.echo(
            f"{row['id']:>6} {row['created_at']} {row['phone']} {row['status']:<9} "
            f"{row['reason']:<8} {row['template']}: {row['text']}"
        )


COMMANDS = [outbox]
