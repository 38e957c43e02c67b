"""`gateway indicators --mutual CODE | --union CODE --period YYYY[-MM] [--section S] [--json]`
prints the stored D22 indicators (what the indicators job computed, never computed here);
`gateway indicators target` enters a section's target population (M.5) and queues the
recomputation; `gateway indicators recompute` recomputes now (all mutuals, or one)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.cli.context import CliContext
from gateway.cli.lookups import mutual_named
from gateway.models import Mutual
from gateway.queueing import defer
from gateway.services.indicators import (
    BadPeriod,
    Figure,
    IndicatorError,
    computed_at,
    find_section,
    parse_period,
    read_figures,
    recompute,
    set_target,
    union_mutuals,
)

pass_ctx = click.make_pass_decorator(CliContext)


@click.group("indicators", invoke_without_command=True)
@click.option("--mutual", "mutual_code", default=None, metavar="CODE", help="Code of the mutual.")
@click.option("--union", "union_code", default=None, metavar="CODE", help="Code of the union.")
@click.option("--period", default=None, metavar="YYYY[-MM]", help="A year or a month.")
@click.option("--section", default=None, metavar="NAME", help="One section of the mutual.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def indicators(
    click_ctx: click.Context,
    mutual_code: str | None,
    union_code: str | None,
    period: str | None,
    section: str | None,
    as_json: bool,
) -> None:
    """Print the D22 indicators of a mutual, a section or a union for a period."""
    if click_ctx.invoked_subcommand is not None:
        return
    if (mutual_code is None) == (union_code is None):
        raise click.UsageError("give exactly one of --mutual CODE or --union CODE")
    if period is None:
        raise click.UsageError("--period YYYY or YYYY-MM is required")
    if section is not None and mutual_code is None:
        raise click.UsageError("--section needs --mutual (a section belongs to one mutual)")
    label = _period(period)
    ctx = click_ctx.find_object(CliContext)
    assert ctx is not None
    with ctx.session() as session:
        try:
            scope, ids, section_id = _scope(session, mutual_code, union_code, section)
        except IndicatorError as exc:
            raise click.ClickException(str(exc)) from exc
        figures = read_figures(session, label, ids, section_id)
        when = computed_at(session, ids, label)
    if as_json:
        document = {
            "scope": scope,
            "period": label,
            "computed_at": when.isoformat() if when else None,
            "indicators": [f.as_dict() for f in figures],
        }
        click.echo(json.dumps(document))
        return
    _print(scope, label, when, figures)


def _scope(
    session: Session, mutual_code: str | None, union_code: str | None, section: str | None
) -> tuple[dict[str, Any], list[int], int | None]:
    """The scope as printed, its mutuals, and the section's id (None: the whole mutuals)."""
    if mutual_code is None:
        return {"union": union_code}, union_mutuals(session, union_code or ""), None
    mutual = mutual_named(session, mutual_code)
    scope: dict[str, Any] = {"mutual": mutual.code}
    if section is None:
        return scope, [mutual.id], None
    found = find_section(session, mutual, section)
    scope["section"] = found.name
    return scope, [mutual.id], found.id


def _print(
    scope: dict[str, Any], label: str, when: dt.datetime | None, figures: list[Figure]
) -> None:
    where = " / ".join(f"{k} {v}" for k, v in scope.items())
    click.echo(f"{where}, period {label}" + (f" (computed {when:%Y-%m-%d %H:%M})" if when else ""))
    if not figures:
        click.echo("no indicators computed for this period yet (gateway indicators recompute)")
    for f in figures:
        shown = "n/a" if f.value is None else f"{f.value:g}"
        name = f"{f.code}[{f.key}]" if f.key else f.code
        click.echo(f"{name:<32} {f.numerator:>14} / {f.denominator:<12} {shown}")


def _period(text: str) -> str:
    try:
        return parse_period(text).label
    except BadPeriod as exc:
        raise click.UsageError(f"--period: {exc}") from exc


@indicators.command("target")
@click.option("--mutual", "code", required=True, metavar="CODE", help="Code of the mutual.")
@click.option("--section", required=True, metavar="NAME", help="The section.")
@click.option("--year", required=True, type=int, help="The year the target is for.")
@click.option("--population", required=True, type=int, help="Target population (people).")
@pass_ctx
def target(ctx: CliContext, code: str, section: str, year: int, population: int) -> None:
    """Enter a section's target population for a year (M.5 penetration)."""
    with ctx.session() as session:
        mutual = mutual_named(session, code)
        try:
            _, before = set_target(session, mutual, section, year, population, ctx.clock.now())
        except IndicatorError as exc:
            raise click.ClickException(str(exc)) from exc
        defer(session, "recompute-indicators", str(mutual.id), f"{year:04d}-01-01")
    was = "new" if before is None else f"was {before}"
    click.echo(f"target {code}/{section} {year}: {population} ({was}); recomputation queued")


@indicators.command("recompute")
@click.option("--mutual", "code", default=None, metavar="CODE", help="Only this mutual.")
@click.option("--since", default=None, metavar="YYYY-MM-DD", help="From this day (default: all).")
@pass_ctx
def recompute_cmd(ctx: CliContext, code: str | None, since: str | None) -> None:
    """Recompute the stored indicators now (what the indicators job does)."""
    day = _day(since) if since else None
    now = ctx.clock.now()
    with ctx.session() as session:
        ids = [mutual_named(session, code).id] if code else list(session.scalars(select(Mutual.id)))
        rows = recompute(session, ids, day, now.date(), now)
    click.echo(f"{rows} indicator row(s) written for {len(ids)} mutual(s)")


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise click.UsageError(f"--since {text!r}: a date YYYY-MM-DD") from exc


COMMANDS = [indicators]
