"""`gateway mutual load`, `members import`, `payments import`, `agents add`, `demo`: the data a
mutual brings (interfaces.md, Files). Each command is one transaction: all or nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import click
from sqlalchemy.orm import Session

from gateway.cli import payments
from gateway.cli.context import CliContext
from gateway.cli.lookups import mutual_named
from gateway.clock import local_date
from gateway.demo import load_demo
from gateway.models import Section
from gateway.models.agent import ROLES
from gateway.services.agents import add_agent
from gateway.services.members import ImportErrors, ImportReport, import_members
from gateway.services.mutuals import ConfigError, load_mutual
from gateway.services.payments import import_payments
from gateway.settings import sandbox_allowed

pass_ctx = click.make_pass_decorator(CliContext)
FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
JSON = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
WARNINGS_SHOWN = 50


@click.group("mutual")
def mutual_group() -> None:
    """Mutuals: products, campaigns and settings from a TOML file."""


@mutual_group.command("load")
@click.argument("path", type=FILE)
@JSON
@pass_ctx
def mutual_load(ctx: CliContext, path: Path, as_json: bool) -> None:
    """Create or update a mutual from FILE.toml (idempotent)."""
    with ctx.session() as session, _reported():
        mutual = load_mutual(session, path, allow_sandbox=sandbox_allowed(ctx.settings))
        summary = {
            "code": mutual.code,
            "products": [p.code for p in mutual.products],
            "sections": [s.name for s in mutual.sections],
        }
    if as_json:
        _json(summary)
    else:
        products = ", ".join(summary["products"]) or "none"
        click.echo(f"mutual {mutual.code} loaded; products: {products}")


@click.group("members")
def members_group() -> None:
    """Households and beneficiaries."""


@members_group.command("import")
@click.argument("path", type=FILE)
@click.option("--mutual", "code", required=True, help="Code of the mutual.")
@click.option("--dry-run", is_flag=True, help="Check and count, write nothing.")
@JSON
@pass_ctx
def members_import(ctx: CliContext, path: Path, code: str, dry_run: bool, as_json: bool) -> None:
    """Import FILE.csv (one row per beneficiary); any bad line imports nothing."""
    with ctx.session() as session, _reported():
        mutual = mutual_named(session, code)
        now = ctx.clock.now()
        today = local_date(now, mutual.timezone)
        report = import_members(
            session, mutual, path, dry_run=dry_run, today=today, not_after=today, now=now
        )
    if as_json:
        _json(report.as_dict())
        return
    _echo_members(report)


def _echo_members(report: ImportReport) -> None:
    r = report
    households = (r.households_created, r.households_updated, r.households_unchanged)
    members = (r.beneficiaries_created, r.beneficiaries_updated, r.beneficiaries_unchanged)
    if r.dry_run:
        click.echo("dry run: nothing written")
    click.echo("households: {} created, {} updated, {} unchanged".format(*households))
    click.echo("beneficiaries: {} created, {} updated, {} unchanged".format(*members))
    for warning in r.warnings[:WARNINGS_SHOWN]:
        click.echo(f"warning: {warning}", err=True)
    if len(r.warnings) > WARNINGS_SHOWN:
        click.echo(f"warning: ... {len(r.warnings) - WARNINGS_SHOWN} more (see --json)", err=True)


@click.group("payments")
def payments_group() -> None:
    """Payments received for households."""


@payments_group.command("import")
@click.argument("path", type=FILE)
@click.option("--mutual", "code", required=True, help="Code of the mutual.")
@JSON
@pass_ctx
def payments_import(ctx: CliContext, path: Path, code: str, as_json: bool) -> None:
    """Import historical or cash payments from FILE.csv, each allocated as of its date."""
    with ctx.session() as session, _reported():
        mutual = mutual_named(session, code)
        today = local_date(ctx.clock.now(), mutual.timezone)  # the mutual's day
        report = import_payments(session, mutual, path, today=today)
    if as_json:
        _json(report.as_dict())
    else:
        created = f"{report.created} created ({report.amount_created} FCFA)"
        click.echo(f"payments: {created}, {report.already_present} already present")
        for reference in report.held:
            click.echo(
                f"held: payment {reference} is far above what the household could owe; it "
                f"waits for an operator (gateway payments release {reference} --mutual {code})",
                err=True,
            )


@click.group("agents")
def agents_group() -> None:
    """Collectors, facility staff and supervisors (D19)."""


@agents_group.command("add")
@click.option("--mutual", "code", required=True, help="Code of the mutual.")
@click.option("--phone", required=True, help="The agent's phone, any usual notation.")
@click.option("--name", required=True)
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--pin", required=True, help="4 to 6 digits.")
@click.option("--section", default=None, help="Name of one of the mutual's sections.")
@JSON
@pass_ctx
def agents_add(ctx: CliContext, /, code: str, as_json: bool, **fields: Any) -> None:
    """Add an agent, or update the one with that phone (idempotent)."""
    with ctx.session() as session, _reported():
        agent = add_agent(session, mutual_named(session, code), **fields)
        shown: dict[str, str | None] = {"mutual": code, "phone": agent.msisdn, "role": agent.role}
        shown |= {"name": agent.name, "section": _section_name(session, agent.section_id)}
    if as_json:
        _json(shown)
    else:
        click.echo(f"agent {shown['phone']} ({shown['role']}) saved in {code}")


@click.command("demo")
@click.option(
    "--force", is_flag=True, help="Load it even in production (its agents' PINs are published)."
)
@JSON
@pass_ctx
def demo(ctx: CliContext, force: bool, as_json: bool) -> None:
    """Load the demo mutual, members, payments and agents (idempotent)."""
    if ctx.settings.production and not force:
        raise click.ClickException(
            "GATEWAY_ENV=production: the demo creates agents with published PINs; "
            "refused without --force"
        )
    with ctx.session() as session, _reported():
        report = load_demo(session, ctx.clock.today())
    if as_json:
        _json(report.as_dict())
        return
    m = report.members
    click.echo(f"demo mutual {report.mutual}: {report.created} rows created")
    click.echo(
        f"  households {m.households_created}, beneficiaries {m.beneficiaries_created}, "
        f"payments {report.payments.created}"
    )
    for agent in report.agents:
        click.echo(f"  {agent['role']:<10} {agent['phone']}  PIN {agent['pin']}  {agent['name']}")


@contextmanager
def _reported() -> Iterator[None]:
    """The services' validation errors become the command's output and exit status 1."""
    try:
        yield
    except ImportErrors as exc:
        _fail(exc.errors)
    except ConfigError as exc:
        _fail(exc.problems)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc


def _fail(lines: list[str]) -> NoReturn:
    for line in lines:
        click.echo(line, err=True)
    raise click.ClickException(f"{len(lines)} problem(s), nothing written")


def _section_name(session: Session, section_id: int | None) -> str | None:
    return session.get_one(Section, section_id).name if section_id is not None else None


def _json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, default=str, indent=2))


payments_group.add_command(payments.intents)
payments_group.add_command(payments.sandbox_group)
payments_group.add_command(payments.held)
payments_group.add_command(payments.release)
COMMANDS = [mutual_group, members_group, payments_group, agents_group, demo]
