"""`gateway enrolments [list] [--mutual CODE] [--json]`, `gateway enrolments approve ID` and
`gateway enrolments reject ID --reason TEXT` (D24): a manager works through the field
enrolments waiting for approval, each flagged with its possible duplicates. The same service
as the console and the API (one operator_actions row per decision, with no user: the CLI)."""

from __future__ import annotations

import getpass
import json
from typing import Any

import click

from gateway.cli.context import CliContext
from gateway.cli.lookups import mutual_named
from gateway.models import Enrolment
from gateway.services.members import (
    EnrolmentError,
    EventError,
    decide_enrolment,
    enrolment_row,
    pending_enrolments,
)
from gateway.services.operators import Actor

pass_ctx = click.make_pass_decorator(CliContext)


@click.group("enrolments", invoke_without_command=True)
@click.option("--mutual", "code", help="Code of the mutual (default: all).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def enrolments_group(click_ctx: click.Context, code: str | None, as_json: bool) -> None:
    """Field enrolments waiting for a manager (D24); without a subcommand: the list."""
    if click_ctx.invoked_subcommand is None:
        click_ctx.invoke(enrolments_list, code=code, as_json=as_json)


@enrolments_group.command("list")
@click.option("--mutual", "code", help="Code of the mutual (default: all).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def enrolments_list(ctx: CliContext, code: str | None, as_json: bool) -> None:
    """PENDING enrolments, oldest first, with what each may duplicate."""
    with ctx.session() as session:
        mutual_id = mutual_named(session, code).id if code else None
        rows = [enrolment_row(e) for e in pending_enrolments(session, mutual_id)]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("no pending enrolments")
    for row in rows:
        click.echo(_line(row))


def _line(row: dict[str, Any]) -> str:
    head = row["head"]
    flags = "; ".join(_duplicate(d) for d in row["duplicates"])
    return (
        f"#{row['id']:<6} {row['mutual']} {row['section'] or '-'}  {head['name']} "
        f"({head['sex']} {head['year']}, {head['phone']}) +{len(row['dependants'])}  "
        f"by {row['agent'] or row['decided_by']}"
        + (f"  POSSIBLE DUPLICATE: {flags}" if flags else "")
    )


def _duplicate(found: dict[str, Any]) -> str:
    what = "household" if found["kind"] == "household" else "enrolment #"
    why = "same phone" if found["why"] == "phone" else f"same name and year ({found['name']})"
    return f"{what}{' ' if found['kind'] == 'household' else ''}{found['ref']}: {why}"


@enrolments_group.command("approve")
@click.argument("enrolment_id", type=int)
@click.option("--by", "by", default=None, help="Who decides (default: the system user).")
@click.option("--reason", default="", help="Why, if worth saying.")
@pass_ctx
def enrolments_approve(ctx: CliContext, enrolment_id: int, by: str | None, reason: str) -> None:
    """Approve: the household and its members get their numbers; SMS to head and collector."""
    row = _decide(ctx, enrolment_id, "approve", by, reason)
    click.echo(f"enrolment #{enrolment_id} approved: household {row['household']}")


@enrolments_group.command("reject")
@click.argument("enrolment_id", type=int)
@click.option("--reason", required=True, help="Why (sent to the collector by SMS).")
@click.option("--by", "by", default=None, help="Who decides (default: the system user).")
@pass_ctx
def enrolments_reject(ctx: CliContext, enrolment_id: int, reason: str, by: str | None) -> None:
    """Reject with a reason; the collector gets it by SMS."""
    _decide(ctx, enrolment_id, "reject", by, reason)
    click.echo(f"enrolment #{enrolment_id} rejected: {reason.strip()}")


def _decide(
    ctx: CliContext, enrolment_id: int, verdict: str, by: str | None, reason: str
) -> dict[str, Any]:
    with ctx.session() as session:
        found = session.get(Enrolment, enrolment_id)
        if found is None:
            raise click.ClickException(f"no enrolment #{enrolment_id}")
        try:
            return decide_enrolment(
                session,
                found,
                verdict,
                by=by or f"cli:{getpass.getuser()}",
                actor=Actor(None),
                reason=reason,
                now=ctx.clock.now(),
            )
        except (EnrolmentError, EventError) as exc:
            raise click.ClickException(str(exc)) from exc


COMMANDS: list[click.Command] = [enrolments_group]
