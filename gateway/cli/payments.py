"""`gateway payments intents` and `gateway payments sandbox approve|reject`, attached to the
`payments` group of data (interfaces.md). The sandbox commands are the operator's
"click" that decides a sandbox payment request and sends its signed callback."""

from __future__ import annotations

import json

import click
from sqlalchemy import select

from gateway.cli.context import CliContext
from gateway.cli.lookups import mutual_named
from gateway.models import Payment
from gateway.providers.payments.sandbox import SandboxError, SandboxProvider
from gateway.services.coverage import NotHeld, held_payments, release_payment
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
            f"{reference} {word}, but the callback to {callback.shown_url} failed ({exc}); "
            "the gateway's status polling will still see the decision"
        ) from None
    click.echo(f"{reference} {word}; callback to {callback.shown_url} answered HTTP {status}")


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


@click.command("held")
@click.option("--mutual", "mutual_code", required=True, metavar="CODE", help="Code of the mutual.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def held(ctx: CliContext, mutual_code: str, as_json: bool) -> None:
    """Payments held for an operator: far above what their household could owe."""
    with ctx.session() as session:
        mutual = mutual_named(session, mutual_code)
        rows = [
            {
                "reference": p.reference,
                "household": p.household.number,
                "amount": p.amount,
                "paid_on": p.paid_on.isoformat(),
                "channel": p.channel,
                "reason": p.hold_reason,
            }
            for p in held_payments(session, mutual.id)
        ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    if not rows:
        click.echo("no payment held")
    for row in rows:
        click.echo(
            f"{row['reference']} {row['paid_on']} household {row['household']} "
            f"{row['amount']} XOF {row['channel']}: {row['reason']}"
        )


@click.command("release")
@click.argument("reference")
@click.option("--mutual", "mutual_code", required=True, metavar="CODE", help="Code of the mutual.")
@click.option("--by", "by", required=True, help="Who decided (recorded with the payment).")
@pass_ctx
def release(ctx: CliContext, reference: str, mutual_code: str, by: str) -> None:
    """Accept a held payment: credit its household and allocate it as of its date (D7)."""
    if not by.strip():
        raise click.BadParameter("must name who decided", param_hint="--by")
    with ctx.session() as session:
        mutual = mutual_named(session, mutual_code)
        payment = session.scalars(
            select(Payment).where(Payment.mutual_id == mutual.id, Payment.reference == reference)
        ).one_or_none()
        if payment is None:
            raise click.ClickException(f"no payment {reference!r} in mutual {mutual_code}")
        try:
            release_payment(session, payment, by=by.strip(), now=ctx.clock.now())
        except NotHeld as exc:
            raise click.ClickException(str(exc)) from None
        number = payment.household.number
    click.echo(f"payment {reference} released: credited to household {number} and allocated")
