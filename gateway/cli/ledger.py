"""`gateway ledger balance | check`: read balances and audit the invariants (payments.md)."""

from __future__ import annotations

import json

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.cli.context import CliContext
from gateway.models import Household, Mutual
from gateway.services import ledger

pass_ctx = click.make_pass_decorator(CliContext)


@click.group("ledger")
def ledger_group() -> None:
    """Double-entry ledger: balances and the invariant audit."""


@ledger_group.command("balance")
@click.option("--household", "household_number", metavar="NUMBER", help="Household number.")
@click.option("--account", "account_name", metavar="NAME", help="Account, e.g. asset:bank.")
@click.option("--mutual", "mutual_code", metavar="CODE", help="Mutual code (if several).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def balance(
    ctx: CliContext,
    household_number: str | None,
    account_name: str | None,
    mutual_code: str | None,
    as_json: bool,
) -> None:
    """Balance of an account (debit positive) or a household's credit (money held for it)."""
    if (household_number is None) == (account_name is None):
        raise click.UsageError("give exactly one of --household NUMBER or --account NAME")
    with ctx.session() as session:
        if household_number is not None:
            code, account, amount = _household_credit(session, household_number, mutual_code)
        else:
            code, account, amount = _account_balance(session, account_name or "", mutual_code)
    if as_json:
        click.echo(json.dumps({"account": account, "mutual": code, "balance": amount}))
    elif household_number is not None:
        click.echo(f"household {household_number} ({code}): credit {amount} XOF [{account}]")
    else:
        click.echo(f"{account} ({code}): {amount} XOF")


@ledger_group.command("check")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def check(ctx: CliContext, as_json: bool) -> None:
    """Audit every mutual's ledger; exit 1 if any invariant is breached."""
    with ctx.session() as session:
        breaches = ledger.audit(session)
        txns, entries = ledger.ledger_size(session)
    if as_json:
        report = {"ok": not breaches, "transactions": txns, "entries": entries}
        click.echo(json.dumps({**report, "breaches": breaches}))
    elif breaches:
        for breach in breaches:
            click.echo(breach)
        click.echo(f"ledger check failed: {len(breaches)} breach(es)", err=True)
    else:
        click.echo(f"ledger ok: {txns} transactions, {entries} entries")
    if breaches:
        click.get_current_context().exit(1)


def _household_credit(session: Session, number: str, code: str | None) -> tuple[str, str, int]:
    household = _household(session, number, code)
    account = ledger.accounts.household(household.id)
    credit = ledger.household_credit(session, household.mutual_id, household.id)
    return household.mutual.code, account, credit


def _account_balance(session: Session, account: str, code: str | None) -> tuple[str, str, int]:
    try:
        ledger.account_kind(account)
    except ledger.LedgerError as exc:
        raise click.BadParameter(str(exc), param_hint="--account") from exc
    mutual = _mutual(session, code)
    return mutual.code, account, ledger.balance(session, mutual.id, account)


def _mutual(session: Session, code: str | None) -> Mutual:
    """The named mutual, or the only one when the database holds a single mutual."""
    if code is not None:
        found = session.scalars(select(Mutual).where(Mutual.code == code)).one_or_none()
        if found is None:
            raise click.ClickException(f"unknown mutual {code!r}")
        return found
    mutuals = list(session.scalars(select(Mutual).order_by(Mutual.code)))
    if len(mutuals) == 1:
        return mutuals[0]
    if not mutuals:
        raise click.ClickException("no mutual in the database")
    codes = ", ".join(m.code for m in mutuals)
    raise click.ClickException(f"several mutuals ({codes}): give --mutual CODE")


def _household(session: Session, number: str, mutual_code: str | None) -> Household:
    """Numbers are unique per mutual only, so an ambiguous number needs --mutual."""
    stmt = select(Household).join(Household.mutual).where(Household.number == number)
    if mutual_code is not None:
        stmt = stmt.where(Mutual.code == mutual_code)
    found = list(session.scalars(stmt.order_by(Mutual.code)))
    if not found:
        where = f" in mutual {mutual_code}" if mutual_code else ""
        raise click.ClickException(f"unknown household {number!r}{where}")
    if len(found) > 1:
        codes = ", ".join(h.mutual.code for h in found)
        raise click.ClickException(
            f"household {number!r} exists in several mutuals ({codes}): give --mutual CODE"
        )
    return found[0]


COMMANDS = [ledger_group]
