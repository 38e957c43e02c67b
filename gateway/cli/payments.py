"""`gateway payments intents` and `gateway payments sandbox approve|reject`, attached to the
`payments` group of data (interfaces.md). The sandbox commands are the operator's
"click" that decides a sandbox payment request and sends its signed callback."""

from __future__ import annotations

import json

import click

from gateway.cli.context import CliContext
from gateway.providers.payments.sandbox import SandboxError, SandboxProvider
from gateway.services.payments import intent_row, list_intents

pass_ctx = click.make_pass_decorator(CliContext)


@click.command("intents")
@click.option("--household", metavar="NUMBER", help="Only this household's intents.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def intents(ctx: CliContext, household: str | None, limit: int, as_json: bool) -> None:
    """Payment intents, newest first, with reference and state."""
    with ctx.session() as session:
        rows = [intent_row(i) for i in list_intents(session, household, limit)]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    if not rows:
        click.echo("no payment intents")
    for row in rows:
        flag = f" [{row['flag']}]" if row["flag"] else ""
        reason = f" ({row['reason']})" if row["reason"] else ""
        click.echo(
            f"{row['reference']} {row['created_at']} household {row['household']} "
            f"{row['amount']} XOF {row['msisdn']} {row['provider']} {row['state']}{flag}{reason}"
        )


@click.group("sandbox")
def sandbox_group() -> None:
    """Decide a sandbox payment request by hand and send its signed callback."""


def _decide(ctx: CliContext, reference: str, approve: bool) -> None:
    provider = SandboxProvider(ctx.runtime)
    try:
        callback = provider.decide(reference, approve)
    except SandboxError as exc:
        raise click.ClickException(str(exc)) from None
    word = "approved" if approve else "rejected"
    try:
        status = provider.send(callback, reference)
    except (OSError, SandboxError) as exc:
        raise click.ClickException(
            f"{reference} {word}, but the callback to {callback.url} failed ({exc}); "
            "the gateway's status polling will still see the decision"
        ) from None
    click.echo(f"{reference} {word}; callback to {callback.url} answered HTTP {status}")


@sandbox_group.command("approve")
@click.argument("reference")
@pass_ctx
def approve(ctx: CliContext, reference: str) -> None:
    """Approve the pending request REFERENCE (as if the member typed their PIN)."""
    _decide(ctx, reference, True)


@sandbox_group.command("reject")
@click.argument("reference")
@pass_ctx
def reject(ctx: CliContext, reference: str) -> None:
    """Reject the pending request REFERENCE (as if the member declined)."""
    _decide(ctx, reference, False)
