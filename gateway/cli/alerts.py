"""`gateway alerts [--mutual CODE] [--json]` and `gateway alerts resolve ID`: what an operator
must look at (paused campaigns, escalated or late payments, money in suspense...)."""

from __future__ import annotations

import json

import click

from gateway.cli.context import CliContext
from gateway.cli.lookups import mutual_named
from gateway.models import Alert
from gateway.services.alerts import open_alerts, resolve_alert

pass_ctx = click.make_pass_decorator(CliContext)


def _row(alert: Alert) -> dict[str, object]:
    return {
        "id": alert.id,
        "kind": alert.kind,
        "subject": alert.subject,
        "detail": alert.detail,
        "created_at": alert.created_at.isoformat(),
    }


@click.group("alerts", invoke_without_command=True)
@click.option("--mutual", "mutual_code", help="Only this mutual's alerts.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def alerts(click_ctx: click.Context, mutual_code: str | None, limit: int, as_json: bool) -> None:
    """Open alerts, newest first."""
    if click_ctx.invoked_subcommand is not None:
        return
    ctx = click_ctx.find_object(CliContext)
    assert ctx is not None
    with ctx.session() as session:
        mutual_id = mutual_named(session, mutual_code).id if mutual_code else None
        rows = [_row(a) for a in open_alerts(session, mutual_id, limit)]
    if as_json:
        click.echo(json.dumps(rows))
        return
    if not rows:
        click.echo("no open alerts")
    for row in rows:
        click.echo(
            f"#{row['id']} {row['created_at']} {row['kind']} {row['subject']}: {row['detail']}"
        )


@alerts.command("resolve")
@click.argument("alert_id", type=int)
@pass_ctx
def resolve(ctx: CliContext, alert_id: int) -> None:
    """Mark an alert as dealt with."""
    with ctx.session() as session:
        if resolve_alert(session, alert_id, ctx.clock.now()) is None:
            raise click.ClickException(f"no alert #{alert_id}")
    click.echo(f"alert #{alert_id} resolved")


COMMANDS = [alerts]
