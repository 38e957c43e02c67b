"""`gateway funders statement|pay`, `gateway levies statement|remit` (D25), `gateway lists
defaulters|covered` and `gateway cards` (issue 17): the same services as the console's
reports page. A period is `2026` (the coverage periods starting that year) or `2026-03`."""

from __future__ import annotations

import datetime as dt
import getpass
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.cli.context import CliContext
from gateway.cli.lookups import mutual_named
from gateway.clock import local_date
from gateway.lib.phones import InvalidPhone, normalize_msisdn
from gateway.models import Household, Mutual, Section
from gateway.services import ledger, reports
from gateway.services.reports import ReportError, Span

log = logging.getLogger(__name__)
pass_ctx = click.make_pass_decorator(CliContext)
DAY = click.DateTime(formats=["%Y-%m-%d"])


def _mutual_option(f: click.decorators.FC) -> click.decorators.FC:
    return click.option("--mutual", "code", required=True, metavar="CODE", help="Mutual code.")(f)


PERIOD = click.option("--period", "period", required=True, metavar="P", help="2026 or 2026-03.")


REFERENCE_HELP = "The transfer's reference (idempotent)."
BY_HELP = "Who records it (default: the OS user)."


def _transfer_options(verb: str) -> Callable[[click.decorators.FC], click.decorators.FC]:
    """The options of money recorded against a statement (D25): a funder's payment, a levy's
    remittance."""

    def decorate(f: click.decorators.FC) -> click.decorators.FC:
        options = (
            PERIOD,
            click.option("--amount", required=True, type=int, help="Whole XOF."),
            click.option("--reference", required=True, help=REFERENCE_HELP),
            click.option("--on", "on", type=DAY, help=f"Day {verb} (default: today)."),
            click.option("--by", "by", metavar="WHO", help=BY_HELP),
        )
        for option in reversed(options):
            f = option(f)
        return f

    return decorate


SOME_PERIOD = click.option(
    "--period", "period", metavar="P", help="2026 or 2026-03 (default: today)."
)


def _csv_option(f: click.decorators.FC) -> click.decorators.FC:
    return click.option(
        "--csv",
        "csv_path",
        type=click.Path(dir_okay=False, path_type=Path),
        metavar="FILE",
        help="Also write the lines as CSV to FILE.",
    )(f)


@contextmanager
def _refusals() -> Iterator[None]:
    """A service's refusal is one line and exit 1, never a traceback, nothing written."""
    try:
        yield
    except (ReportError, ledger.LedgerError) as exc:
        raise click.ClickException(str(exc)) from None


def _span(period: str) -> Span:
    with _refusals():
        return reports.parse_span(period)


def _today(ctx: CliContext, mutual: Mutual) -> dt.date:
    return local_date(ctx.clock.now(), mutual.timezone)


def _write(path: Path | None, text: str) -> None:
    if path is not None:
        path.write_text(text, encoding="utf-8")
        click.echo(f"wrote {path}")


def _who(by: str | None) -> str:
    if by:
        return by
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in this environment
        raise click.UsageError("cannot tell who you are: give --by WHO") from None


# --- funders -----------------------------------------------------------------------------


@click.group("funders")
def funders_group() -> None:
    """What funders owe per period (D25) and their payments."""


@funders_group.command("statement")
@_mutual_option
@click.option("--funder", required=True, metavar="F", help="Funder code.")
@PERIOD
@_csv_option
@pass_ctx
def funder_statement(
    ctx: CliContext, code: str, funder: str, period: str, csv_path: Path | None
) -> None:
    """The claim: households, beneficiaries and shares the funder owes for the period."""
    span = _span(period)
    with ctx.session() as session, _refusals():
        found = reports.funder_by_code(session, mutual_named(session, code), funder)
        statement = reports.funder_statement(session, found, span)
        for line in statement.lines:
            period_text = line.period_start.isoformat() if line.period_start else "registration"
            click.echo(
                f"{line.household:<12} {line.beneficiary or '-':<14} {line.name[:28]:<28} "
                f"{period_text:<12} {line.funder_share:>10}"
            )
        _funder_totals(statement)
        _write(csv_path, reports.statement_csv(statement))


def _funder_totals(statement: reports.FunderStatement) -> None:
    click.echo(
        f"{statement.funder.code} {statement.span.label}: {statement.households} household(s), "
        f"{statement.beneficiaries} beneficiary(ies), owed {statement.total} XOF, "
        f"paid {statement.paid} XOF, outstanding {statement.outstanding} XOF"
    )


@funders_group.command("pay")
@_mutual_option
@click.option("--funder", required=True, metavar="F", help="Funder code.")
@_transfer_options("paid")
@pass_ctx
def funder_pay(
    ctx: CliContext,
    code: str,
    funder: str,
    period: str,
    amount: int,
    reference: str,
    on: dt.datetime | None,
    by: str | None,
) -> None:
    """Record the funder's payment against its statement: Dr bank / Cr receivable; refused
    above what is still owed; the same reference again is a no-op."""
    span, who = _span(period), _who(by)
    with ctx.session() as session, _refusals():
        mutual = mutual_named(session, code)
        found = reports.funder_by_code(session, mutual, funder)
        day = on.date() if on else _today(ctx, mutual)
        done = reports.pay_funder(
            session, found, span, amount=amount, reference=reference, paid_on=day, by=who
        )
        verb = "recorded" if done.created else "already recorded"
        click.echo(f"payment {done.payment.reference} of {done.payment.amount} XOF {verb}")
        _funder_totals(done.statement)


# --- levies ------------------------------------------------------------------------------


@click.group("levies")
def levies_group() -> None:
    """What each levy took per period (D4, D25) and its remittance."""


@levies_group.command("statement")
@_mutual_option
@click.option("--levy", required=True, metavar="NAME", help="Levy name.")
@PERIOD
@_csv_option
@pass_ctx
def levy_statement(
    ctx: CliContext, code: str, levy: str, period: str, csv_path: Path | None
) -> None:
    """The levy owed on the contributions earned for the period, line by line."""
    span = _span(period)
    with ctx.session() as session, _refusals():
        mutual = mutual_named(session, code)
        statement = reports.levy_statement(
            session, mutual, reports.levy_named(session, mutual, levy), span
        )
        for x in statement.lines:
            click.echo(
                f"{x.household:<12} {x.period_start} {x.shares:>3} {x.earned:>10} {x.levy:>8}"
            )
        _levy_totals(statement)
        _write(csv_path, reports.levy_csv(statement))


def _levy_totals(statement: reports.LevyStatement) -> None:
    click.echo(
        f"{statement.levy} {statement.span.label}: owed {statement.total} XOF, remitted "
        f"{statement.remitted} XOF, outstanding {statement.outstanding} XOF"
    )


@levies_group.command("remit")
@_mutual_option
@click.option("--levy", required=True, metavar="NAME", help="Levy name.")
@_transfer_options("remitted")
@pass_ctx
def levy_remit(
    ctx: CliContext,
    code: str,
    levy: str,
    period: str,
    amount: int,
    reference: str,
    on: dt.datetime | None,
    by: str | None,
) -> None:
    """Record the levy's remittance to its fund: Dr levy / Cr bank, never above what is owed."""
    span, who = _span(period), _who(by)
    with ctx.session() as session, _refusals():
        mutual = mutual_named(session, code)
        name = reports.levy_named(session, mutual, levy)
        day = on.date() if on else _today(ctx, mutual)
        done = reports.remit_levy(
            session, mutual, name, span, amount=amount, reference=reference, paid_on=day, by=who
        )
        verb = "recorded" if done.created else "already recorded"
        click.echo(f"remittance {done.remittance.reference} of {done.remittance.amount} XOF {verb}")
        _levy_totals(done.statement)


# --- lists and cards ---------------------------------------------------------------------


@click.group("lists")
def lists_group() -> None:
    """Lists for the field: defaulters with the amount offered, covered beneficiaries."""


def _section(session: Session, mutual: Mutual, name: str | None) -> Section | None:
    return reports.section_named(session, mutual, name) if name else None


@lists_group.command("defaulters")
@_mutual_option
@click.option("--section", "section", metavar="S", help="Section (village) name.")
@SOME_PERIOD
@_csv_option
@pass_ctx
def defaulters(
    ctx: CliContext, code: str, section: str | None, period: str | None, csv_path: Path | None
) -> None:
    """Households owing today (D6b amount offered), or unpaid for a period starting in P.
    The CSV carries full phones: the command runs on the server, for the managers."""
    span = _span(period) if period else None
    with ctx.session() as session, _refusals():
        mutual = mutual_named(session, code)
        rows = reports.defaulters(
            session,
            mutual,
            on=_today(ctx, mutual),
            section=_section(session, mutual, section),
            span=span,
        )
        for r in rows:
            click.echo(
                f"{r.section:<14} {r.household:<12} {r.head[:24]:<24} {r.status:<9} "
                f"{r.amount_offered:>9} XOF {r.for_period}"
            )
        click.echo(f"{len(rows)} household(s), {sum(r.amount_offered for r in rows)} XOF offered")
        if csv_path is not None:
            log.info("defaulters list with phones written mutual=%s rows=%s", code, len(rows))
        _write(csv_path, reports.defaulters_csv(rows, masked=False))


@lists_group.command("covered")
@_mutual_option
@click.option("--section", "section", metavar="S", help="Section (a facility's catchment).")
@click.option("--facility", "facility", metavar="PHONE", help="Facility agent: its section.")
@SOME_PERIOD
@_csv_option
@pass_ctx
def covered(
    ctx: CliContext,
    code: str,
    section: str | None,
    facility: str | None,
    period: str | None,
    csv_path: Path | None,
) -> None:
    """Beneficiaries covered on a day of P (default: today), with their cover's dates, in a
    section or a facility's catchment (its agent's section)."""
    if section and facility:
        raise click.UsageError("give --section S or --facility PHONE, not both")
    with ctx.session() as session, _refusals():
        mutual = mutual_named(session, code)
        span = _span(period) if period else reports.day_span(_today(ctx, mutual))
        where = _section(session, mutual, section)
        if facility:
            where = reports.facility_catchment(session, mutual, _msisdn(facility, mutual))
        rows = reports.covered(session, mutual, span=span, section=where)
        for r in rows:
            click.echo(
                f"{r.section:<14} {r.beneficiary:<14} {r.name[:28]:<28} "
                f"{r.covered_from} -> {r.covered_until}"
            )
        click.echo(f"{len(rows)} beneficiary(ies) covered in {span.label}")
        _write(csv_path, reports.covered_csv(rows))


@click.command("cards")
@_mutual_option
@click.option("--household", "household", metavar="N", help="One household's sheet.")
@click.option("--section", "section", metavar="S", help="Every household of a section.")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The PDF file to write.",
)
@pass_ctx
def cards(
    ctx: CliContext, code: str, household: str | None, section: str | None, out: Path
) -> None:
    """Member cards as a PDF: one per active beneficiary, a sheet per household."""
    if (household is None) == (section is None):
        raise click.UsageError("give exactly one of --household N or --section S")
    with ctx.session() as session, _refusals():
        mutual = mutual_named(session, code)
        today = _today(ctx, mutual)
        if household is not None:
            sheets = [
                reports.household_cards(session, _household(session, mutual, household), today)
            ]
        else:
            found = reports.section_named(session, mutual, section or "")
            sheets = reports.section_sheets(session, mutual, found, today)
        pdf = reports.cards_pdf(sheets, mutual.default_language)
    out.write_bytes(pdf)
    count = sum(len(s) for s in sheets)
    click.echo(f"wrote {out}: {count} card(s), {len(sheets)} household(s)")


def _msisdn(phone: str, mutual: Mutual) -> str:
    try:
        return normalize_msisdn(phone, mutual.country)
    except InvalidPhone as exc:
        raise ReportError(f"--facility: {exc}") from None


def _household(session: Session, mutual: Mutual, number: str) -> Household:
    found = session.scalars(
        select(Household).where(Household.mutual_id == mutual.id, Household.number == number)
    ).one_or_none()
    if found is None:
        raise ReportError(f"unknown household {number!r} in mutual {mutual.code}")
    return found


COMMANDS = [funders_group, levies_group, lists_group, cards]
