"""`gateway reminders run | estimate | resume`: campaign reminders (D14-D17), their cost
before a campaign starts, and resuming a campaign paused by the provider (405).

The messages are queued in the outbox; the worker's sms-dispatch sweeper sends them."""

from __future__ import annotations

import json

import click

from gateway.cli.context import CliContext
from gateway.cli.moments import echo_counts, parse_now, run_options
from gateway.services.messaging import find_campaign, resume_campaign
from gateway.services.reminders import estimate_campaign, run_reminders, select_targets, zone

pass_ctx = click.make_pass_decorator(CliContext)


@click.group("reminders")
def reminders() -> None:
    """Campaign reminders (D14-D17)."""


@reminders.command("run")
@run_options
@pass_ctx
def run(ctx: CliContext, now_text: str | None, as_json: bool) -> None:
    """Record and queue every reminder due now; safe to run twice (D17)."""
    now = parse_now(now_text) or ctx.clock.now()
    with ctx.session() as session:
        counts = run_reminders(session, now).as_dict()
    echo_counts("reminders", now, counts, as_json)


def _campaign_options(func: click.decorators.FC) -> click.decorators.FC:
    func = click.option("--campaign", "campaign_code", required=True, help="Campaign code.")(func)
    return click.option("--mutual", "mutual_code", required=True, help="Mutual code.")(func)


@reminders.command("estimate")
@_campaign_options
@click.option("--now", "now_text", metavar="ISO-DATETIME", help="Targets as of this moment.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def estimate(
    ctx: CliContext, mutual_code: str, campaign_code: str, now_text: str | None, as_json: bool
) -> None:
    """Cost of the campaign's reminders to today's targets: recipients x messages x segments
    x price per segment (the mutual's [sms] prices, per operator), against its budget."""
    now = parse_now(now_text) or ctx.clock.now()
    with ctx.session() as session:
        try:
            campaign = find_campaign(session, mutual_code, campaign_code)
        except LookupError as exc:
            raise click.ClickException(str(exc)) from None
        mutual = campaign.mutual
        today = now.astimezone(zone(mutual)).date()
        targets = select_targets(session, mutual, campaign, today).targets
        found = estimate_campaign(mutual, campaign, targets).as_dict()
        budget = campaign.budget
    within = budget is None or found["cost"] <= budget
    if as_json:
        click.echo(json.dumps({**found, "budget": budget, "within_budget": within}))
        return
    click.echo(f"campaign {campaign_code} of {mutual_code}")
    for name in ("recipients", "messages", "segments"):
        click.echo(f"{name}: {found[name]}")
    click.echo(f"cost: {found['cost']} XOF")
    for operator, cost in sorted(found["by_operator"].items()):
        click.echo(f"  {operator}: {cost} XOF")
    limit = "none" if budget is None else f"{budget} XOF"
    click.echo(f"budget: {limit} ({'within' if within else 'EXCEEDED: will not start'})")


@reminders.command("resume")
@_campaign_options
@pass_ctx
def resume(ctx: CliContext, mutual_code: str, campaign_code: str) -> None:
    """Resume a campaign paused by the provider (e.g. balance topped up): its queued
    messages go with the next sms-dispatch sweep."""
    with ctx.session() as session:
        try:
            campaign = find_campaign(session, mutual_code, campaign_code)
        except LookupError as exc:
            raise click.ClickException(str(exc)) from None
        was = campaign.paused_reason
        waiting = resume_campaign(session, campaign, ctx.clock.now())
    state = f"resumed (was paused: {was})" if was else "was not paused"
    click.echo(f"campaign {campaign_code} of {mutual_code} {state}; {waiting} queued message(s)")


COMMANDS = [reminders]
