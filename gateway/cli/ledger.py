"""`gateway ledger balance | check | hold | clear | credits`: read balances, audit the invariants
and hold a mutual whose ledger fails the audit (payments.md, "Ledger"), clear the hold, list the
households holding credit."""

from __future__ import annotations

import datetime as dt
import getpass
import json

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.cli.context import CliContext
from gateway.models import Household, LedgerHold, Mutual
from gateway.services import ledger, reconciliation

pass_ctx = click.make_pass_decorator(CliContext)


@click.group("ledger")
def ledger_group() -> None:
    """Double-entry ledger: balances, the invariant audit, holds and household credits."""


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
@click.option(
    "--recent",
    is_flag=True,
    help="Only what changed since the last recent audit (what the 5-minute job runs).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def check(ctx: CliContext, recent: bool, as_json: bool) -> None:
    """Audit every mutual's ledger; exit 1 if any invariant is breached.

    A mutual with breaches is also put on hold (no automatic allocation, coverage receipts
    deferred) with an operator alert, as the ledger-audit jobs do; breaches accepted by a
    forced `gateway ledger clear` are still listed but hold nothing. With --recent, the
    transactions posted or changed since the recent audit's last run only."""
    with ctx.session() as session:
        if recent:
            run = ledger.audit_recent(session, now=ctx.clock.now())
            found = run.breaches
            report: dict[str, object] = {"since": run.since, "rechecked": run.rechecked}
            summary = f"transactions after #{run.since} and {run.rechecked} older one(s)"
        else:
            found = ledger.find_breaches(session)
            txns, entries = ledger.ledger_size(session)
            report = {"transactions": txns, "entries": entries}
            summary = f"{txns} transactions, {entries} entries"
        breaches = [breach.text for breach in found]
        ledger.hold_breached(session, ledger.breaches_by_mutual(found), now=ctx.clock.now())
    if as_json:
        click.echo(json.dumps({"ok": not breaches, **report, "breaches": breaches}))
    elif breaches:
        for breach in breaches:
            click.echo(breach)
        click.echo(f"ledger check failed: {len(breaches)} breach(es)", err=True)
    else:
        click.echo(f"ledger ok: {summary}")
    if breaches:
        click.get_current_context().exit(1)


@ledger_group.command("hold")
@click.option("--mutual", "mutual_code", metavar="CODE", help="Mutual code (if several).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def hold_state(ctx: CliContext, mutual_code: str | None, as_json: bool) -> None:
    """Whether a mutual's ledger is on hold and why, what the audit finds now, and the holds
    cleared before (who, when, why)."""
    with ctx.session() as session:
        mutual = _mutual(session, mutual_code)
        history = ledger.hold_history(session, mutual.id)
        accepted = ledger.accepted_breaches(session, mutual.id)
        now = ledger.audit_by_mutual(session, mutual.id).get(mutual.id, [])
        breaches = [b for b in now if b not in accepted]
        state = {
            "mutual": mutual.code,
            "on_hold": bool(history) and history[0].cleared_at is None,
            "breaches_now": breaches,
            "accepted_now": [b for b in now if b in accepted],
            "holds": [_hold_row(h) for h in history],
        }
        lines = _hold_text(mutual.code, history, breaches)
    if as_json:
        click.echo(json.dumps(state))
        return
    for line in lines:
        click.echo(line)


@ledger_group.command("clear")
@click.option("--mutual", "mutual_code", metavar="CODE", required=True, help="Mutual code.")
@click.option("--reason", required=True, help="Why the ledger can be trusted again.")
@click.option("--by", "by", metavar="WHO", help="Who clears the hold (default: the OS user).")
@click.option(
    "--force",
    is_flag=True,
    help="Clear although the audit still finds breaches: they are recorded as accepted.",
)
@pass_ctx
def clear(ctx: CliContext, mutual_code: str, reason: str, by: str | None, force: bool) -> None:
    """End a mutual's ledger hold: allocation resumes at once (the households held are
    allocated, as of their payment's date) and the deferred receipts are queued. Refused while
    the audit still finds breaches for the mutual, unless --force."""
    who = by if by is not None else _os_user()
    with ctx.session() as session:
        mutual = _mutual(session, mutual_code)
        try:
            done = reconciliation.release(
                session, mutual.id, by=who, reason=reason, now=ctx.clock.now(), force=force
            )
        except ledger.BreachesRemain as exc:
            more = f" (and {len(exc.breaches) - 1} more)" if len(exc.breaches) > 1 else ""
            raise click.ClickException(
                f"{exc}: {exc.breaches[0]}{more}; fix them, or clear with --force to accept them"
            ) from None
        except ledger.HoldError as exc:
            raise click.ClickException(str(exc)) from None
        accepted = len(done.hold.accepted)
        hold_id = done.hold.id
    extra = f"; {accepted} breach(es) accepted" if accepted else ""
    click.echo(
        f"{mutual_code}: hold #{hold_id} cleared by {who}; {done.allocations} allocation(s) "
        f"made, {done.receipts} receipt(s) queued{extra}"
    )


@ledger_group.command("credits")
@click.option("--mutual", "mutual_code", metavar="CODE", help="Mutual code (if several).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def credits(ctx: CliContext, mutual_code: str | None, as_json: bool) -> None:
    """Households holding credit (money received, not yet allocated), largest first, with
    the date of their last payment; --json: a list of {"household", "credit", "last_paid"}."""
    with ctx.session() as session:
        mutual = _mutual(session, mutual_code)
        code = mutual.code
        rows = ledger.household_credits(session, mutual.id)
    if as_json:
        click.echo(json.dumps([_credit_row(r) for r in rows]))
        return
    if not rows:
        click.echo(f"no household of {code} holds credit")
        return
    width = max(len(r.number) for r in rows)
    amounts = [_xof(r.credit) for r in rows]
    money = max(len(a) for a in amounts)
    for row, amount in zip(rows, amounts, strict=True):
        paid = f"last paid {row.last_paid_on}" if row.last_paid_on else "no payment"
        click.echo(f"{row.number:<{width}}  {amount:>{money}}  {paid}")
    total = sum(r.credit for r in rows)
    click.echo(f"total: {len(rows)} household(s), {_xof(total)}")


def _xof(amount: int) -> str:
    """D2: whole francs, thousands grouped with a space."""
    return f"{amount:,} XOF".replace(",", " ")


def _credit_row(row: ledger.HouseholdCredit) -> dict[str, object]:
    paid = row.last_paid_on.isoformat() if row.last_paid_on else None
    return {"household": row.number, "credit": row.credit, "last_paid": paid}


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in this environment
        raise click.UsageError("cannot tell who you are: give --by WHO") from None


def _stamp(at: dt.datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _hold_row(h: LedgerHold) -> dict[str, object]:
    return {
        "id": h.id,
        "set_at": _stamp(h.set_at),
        "breaches": list(h.breaches),
        "cleared_at": _stamp(h.cleared_at),
        "cleared_by": h.cleared_by,
        "reason": h.clear_reason,
        "accepted": list(h.accepted),
    }


def _hold_text(code: str, history: list[LedgerHold], now: list[str]) -> list[str]:
    lines = []
    if history and history[0].cleared_at is None:
        current, history = history[0], history[1:]
        lines.append(
            f"{code}: ledger ON HOLD since {_when(current.set_at)} (hold #{current.id}): "
            "no automatic allocation, coverage receipts deferred"
        )
        lines += [f"  set by: {b}" for b in current.breaches]
    else:
        lines.append(f"{code}: ledger not on hold")
    lines.append(f"audit now: {len(now)} breach(es)" if now else "audit now: no breach")
    lines += [f"  {b}" for b in now]
    for past in history:
        lines.append(
            f"hold #{past.id} set {_when(past.set_at)}, cleared {_when(past.cleared_at)} "
            f"by {past.cleared_by}: {past.clear_reason}"
        )
    return lines


def _when(at: dt.datetime | None) -> str:
    """`2026-11-03 10:00 UTC`."""
    return at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if at is not None else "-"


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
