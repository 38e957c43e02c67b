"""`gateway reconcile ...`: import a provider statement and match it, the daily report, and
the people's side of exceptions (assign, ignore, approve) (payments.md, Reconciliation).
Each command is one transaction: all or nothing."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from gateway.cli.context import CliContext
from gateway.lib.csv_rows import ImportErrors
from gateway.models import ActionState
from gateway.queueing import defer
from gateway.services import reconciliation
from gateway.services.reconciliation import (
    PROVIDERS,
    ReconcileError,
    as_json,
    as_text,
    build_report,
    business_day,
    import_and_reconcile,
    mutual_by_code,
    reconcile_days,
)

pass_ctx = click.make_pass_decorator(CliContext)
FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
JSON = click.option("--json", "as_json_out", is_flag=True, help="Machine-readable output.")
PROVIDER = click.option(
    "--provider", required=True, type=click.Choice(PROVIDERS), help="Payment provider."
)
MUTUAL = click.option("--mutual", "code", required=True, help="Code of the mutual.")
BY = click.option("--by", "by", required=True, metavar="WHO", help="The person acting.")


@contextmanager
def _reported() -> Iterator[None]:
    """Service errors become a clear message and exit status 1; nothing was written."""
    try:
        yield
    except ImportErrors as exc:
        raise click.ClickException(str(exc)) from exc
    except (ReconcileError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:  # a file that exists but cannot be read
        raise click.ClickException(f"{exc.filename}: cannot read: {exc.strerror}") from exc


def _day(value: str) -> dt.date:
    try:
        return business_day(value)
    except ReconcileError as exc:
        raise click.BadParameter(str(exc), param_hint="'--day'") from None


@click.group("reconcile")
def reconcile() -> None:
    """Provider statements: import and match, daily report, exceptions."""


@reconcile.command("import")
@click.argument("path", type=FILE)
@PROVIDER
@MUTUAL
@JSON
@pass_ctx
def import_cmd(ctx: CliContext, path: Path, provider: str, code: str, as_json_out: bool) -> None:
    """Import FILE.csv (generic layout or the provider's export), then match its days."""
    with ctx.session() as session, _reported():
        mutual = mutual_by_code(session, code)
        imported, run = import_and_reconcile(  # read as a stream: any size of file (issue 15)
            session, mutual, provider, path, filename=path.name, now=ctx.clock.now()
        )
    summary = {
        "file": path.name,
        "layout": imported.layout,
        "already_imported": imported.already_imported,
        "added": imported.added,
        "skipped": imported.skipped,
        "duplicates": imported.duplicates,
        "days": [d.isoformat() for d in run.days],
        "acted": run.acted,
        "settlements": run.settlements,
    }
    if as_json_out:
        click.echo(json.dumps(summary, sort_keys=True))
        return
    if imported.already_imported:
        click.echo(f"{path.name}: already imported, nothing added")
    else:
        n = imported.duplicates
        repeated = f", {n} duplicate line(s) in the file skipped" if n else ""
        click.echo(
            f"{path.name} ({imported.layout}): {imported.added} line(s) added, "
            f"{imported.skipped} already imported from another file{repeated}"
        )
    days = ", ".join(d.isoformat() for d in run.days)
    click.echo(f"matched {days}: {run.acted} result(s) acted on; see `gateway reconcile report`")


@reconcile.command("run")
@PROVIDER
@MUTUAL
@click.option("--day", "day", required=True, metavar="YYYY-MM-DD", help="Business day (UTC).")
@click.option("--enqueue", is_flag=True, help="Queue the `reconcile` job instead of running here.")
@JSON
@pass_ctx
def run_cmd(
    ctx: CliContext, provider: str, code: str, day: str, enqueue: bool, as_json_out: bool
) -> None:
    """Match a day's statement lines again (idempotent), here or as a job."""
    when = _day(day)
    with ctx.session() as session, _reported():
        mutual = mutual_by_code(session, code)
        if enqueue:
            job_id = f"reconcile-{provider}-{mutual.code}-{when.isoformat()}"
            defer(session, "reconcile", provider, mutual.code, when.isoformat(), job_id=job_id)
        else:
            run = reconcile_days(session, mutual, provider, [when])
    where = {"provider": provider, "mutual": code, "day": when.isoformat()}
    if enqueue:
        if as_json_out:
            click.echo(json.dumps({**where, "queued": True}, sort_keys=True))
        else:
            click.echo(f"reconcile job queued for {provider} {code} {when.isoformat()}")
        return
    if as_json_out:
        click.echo(json.dumps({**where, "queued": False, **run.as_dict()}, sort_keys=True))
        return
    click.echo(
        f"reconciled {provider} {code} {when.isoformat()}: {run.acted} acted on, "
        f"{run.settlements} settlement(s)"
    )
    if run.uncovered:
        click.echo(_uncovered_line(when))


def _uncovered_line(day: dt.date) -> str:
    return (
        f"no statement covers {day.isoformat()}: nothing to match; intents credited that day "
        "wait in missing_in_statement (import the statement with `gateway reconcile import`)"
    )


@reconcile.command("report")
@PROVIDER
@MUTUAL
@click.option("--day", "day", required=True, metavar="YYYY-MM-DD", help="Business day (UTC).")
@JSON
@pass_ctx
def report_cmd(ctx: CliContext, provider: str, code: str, day: str, as_json_out: bool) -> None:
    """The day's buckets, tiers, fees and float against the statement."""
    when = _day(day)
    with ctx.session() as session, _reported():
        report = build_report(session, mutual_by_code(session, code), provider, when)
    click.echo(as_json(report) if as_json_out else as_text(report), nl=as_json_out)


@reconcile.command("exceptions")
@click.option("--mutual", "code", help="Only this mutual.")
@JSON
@pass_ctx
def exceptions_cmd(ctx: CliContext, code: str | None, as_json_out: bool) -> None:
    """Open suspense lines and assignments awaiting a second person."""
    with ctx.session() as session, _reported():
        mutual = mutual_by_code(session, code) if code else None
        found = reconciliation.exceptions(session, mutual)
    if as_json_out:
        click.echo(json.dumps(found, sort_keys=True))
        return
    _echo_exceptions(found)


def _echo_exceptions(found: dict[str, list[dict[str, Any]]]) -> None:
    click.echo(f"open suspense lines: {len(found['suspense'])}")
    for s in found["suspense"]:
        click.echo(
            f"  #{s['id']} {s['provider']} {s['provider_txn_id']} {s['amount']} XOF "
            f"{s['reason']} on {s['received_on']} ref {s['reference'] or '-'} "
            f"from {s['msisdn'] or '-'}"
        )
    click.echo(f"awaiting approval: {len(found['pending_approvals'])}")
    for a in found["pending_approvals"]:
        click.echo(
            f"  action #{a['id']}: suspense #{a['suspense_id']} -> household {a['household']} "
            f"{a['amount']} XOF, asked by {a['by']} ({a['reason'] or 'no reason'})"
        )


@reconcile.command("assign")
@click.argument("suspense_id", type=int)
@click.option("--household", "household", required=True, metavar="NUMBER")
@BY
@click.option("--reason", default=None, help="Why this household.")
@pass_ctx
def assign_cmd(
    ctx: CliContext, suspense_id: int, household: str, by: str, reason: str | None
) -> None:
    """Give a suspense line's money to a household (a second person approves large ones)."""
    with ctx.session() as session, _reported():
        action = reconciliation.assign(
            session, suspense_id, household, by=by, reason=reason, now=ctx.clock.now()
        )
        action_id, state, amount = action.id, action.state, action.amount
    if state == ActionState.PENDING:
        click.echo(
            f"{amount} XOF is above the approval threshold: action #{action_id} awaits "
            f"`gateway reconcile approve {action_id} --by SOMEONE_ELSE`"
        )
    else:
        click.echo(
            f"suspense #{suspense_id} assigned to household {household} (action #{action_id})"
        )


@reconcile.command("approve")
@click.argument("action_id", type=int)
@BY
@pass_ctx
def approve_cmd(ctx: CliContext, action_id: int, by: str) -> None:
    """Approve another person's assignment above the threshold."""
    with ctx.session() as session, _reported():
        action = reconciliation.approve(session, action_id, by=by, now=ctx.clock.now())
        suspense_id = action.suspense_id
    click.echo(f"action #{action_id} approved by {by}: suspense #{suspense_id} assigned")


@reconcile.command("ignore")
@click.argument("suspense_id", type=int)
@click.option("--reason", required=True, help="Why nobody gets this money.")
@BY
@pass_ctx
def ignore_cmd(ctx: CliContext, suspense_id: int, reason: str, by: str) -> None:
    """Close a suspense line without giving its money to anyone, with the reason."""
    with ctx.session() as session, _reported():
        action = reconciliation.ignore(
            session, suspense_id, reason=reason, by=by, now=ctx.clock.now()
        )
        action_id = action.id
    click.echo(f"suspense #{suspense_id} ignored (action #{action_id})")


COMMANDS = [reconcile]
