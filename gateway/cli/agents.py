"""`gateway agents remittances`, `confirm-remittance` and `reject-remittance` (D21):
supervisors list declared remittances and decide on them, saying why; `deactivate`,
`activate`, `unlock` and `reset-pin` keep the roster (D19; the console's agents page calls the
same services, issue 16). Added to the `agents` group of data."""

from __future__ import annotations

import json
from collections.abc import Callable

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.cli.context import CliContext
from gateway.cli.data import agents_group
from gateway.cli.lookups import mutual_named
from gateway.lib.phones import InvalidPhone, normalize_msisdn
from gateway.models import Agent, Mutual, RemittanceStatus
from gateway.services.agents import (
    AgentError,
    CashError,
    Decision,
    confirm_remittance,
    list_remittances,
    reject_remittance,
    remittance_row,
    reset_pin,
    set_agent_active,
    unlock_agent,
)

pass_ctx = click.make_pass_decorator(CliContext)


@agents_group.command("remittances")
@click.option("--mutual", "code", help="Code of the mutual (default: all).")
@click.option("--pending", is_flag=True, help="Only those awaiting confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def agents_remittances(ctx: CliContext, code: str | None, pending: bool, as_json: bool) -> None:
    """Remittances declared by collectors, with who decided on them, when and why."""
    with ctx.session() as session:
        mutual_id = mutual_named(session, code).id if code else None
        status = RemittanceStatus.PENDING if pending else None
        rows = [
            remittance_row(r) for r in list_remittances(session, mutual_id=mutual_id, status=status)
        ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("no remittances")
    for row in rows:
        click.echo(
            f"#{row['id']:<6} {row['status']:<9} {row['amount']:>10} XOF {row['method']:<8}  "
            f"{row['agent']} ({row['agent_phone']})  declared {row['declared_at']}{_decided(row)}"
        )


def _decided(row: dict[str, object]) -> str:
    if row["confirmed_by"]:
        text = f"  confirmed by {row['confirmed_by']} at {row['confirmed_at']}"
    elif row["rejected_by"]:
        text = f"  rejected by {row['rejected_by']} at {row['rejected_at']}"
    else:
        return ""
    return f"{text}: {row['note']}" if row["note"] else text


@agents_group.command("confirm-remittance")
@click.argument("remittance_id", type=int)
@click.option("--by", "phone", required=True, help="The confirming supervisor's phone.")
@click.option("--note", help="Why, if worth saying (bank slip number, transfer reference).")
@pass_ctx
def agents_confirm_remittance(
    ctx: CliContext, remittance_id: int, phone: str, note: str | None
) -> None:
    """Confirm a remittance: its cash leaves the agent's account for the bank (once)."""
    done, row = _decide(ctx, confirm_remittance, remittance_id, phone, note=note)
    if done.created:
        click.echo(f"remittance #{remittance_id} of {row['amount']} XOF confirmed")
    else:
        click.echo(
            f"remittance #{remittance_id} was already confirmed by {row['confirmed_by']} "
            f"at {row['confirmed_at']}; nothing changed"
        )


@agents_group.command("reject-remittance")
@click.argument("remittance_id", type=int)
@click.option("--by", "phone", required=True, help="The rejecting supervisor's phone.")
@click.option("--reason", required=True, help="Why: money not received, different amount...")
@pass_ctx
def agents_reject_remittance(ctx: CliContext, remittance_id: int, phone: str, reason: str) -> None:
    """Reject a remittance: nothing is posted, the cash stays with the agent."""
    done, row = _decide(ctx, reject_remittance, remittance_id, phone, reason=reason)
    if done.created:
        click.echo(f"remittance #{remittance_id} of {row['amount']} XOF rejected: {row['note']}")
    else:
        click.echo(
            f"remittance #{remittance_id} was already rejected by {row['rejected_by']} "
            f"at {row['rejected_at']}; nothing changed"
        )


def _decide(
    ctx: CliContext,
    decide: Callable[..., Decision],
    remittance_id: int,
    phone: str,
    **why: str | None,
) -> tuple[Decision, dict[str, object]]:
    """The supervisor of that phone decides, in one transaction; refusals say why."""
    with ctx.session() as session:
        supervisor = _supervisor(session, phone)
        try:
            done = decide(
                session,
                remittance_id=remittance_id,
                supervisor=supervisor,
                now=ctx.clock.now(),
                **why,
            )
        except CashError as exc:
            raise click.ClickException(str(exc)) from exc
        return done, remittance_row(done.remittance)


def _supervisor(session: Session, phone: str) -> Agent:
    """The agent with that phone, read in the notation of each mutual's country."""
    for country in session.scalars(select(Mutual.country).distinct()):
        try:
            msisdn = normalize_msisdn(phone, country)
        except InvalidPhone:
            continue
        agent = session.scalars(select(Agent).where(Agent.msisdn == msisdn)).one_or_none()
        if agent is not None:
            return agent
    raise click.ClickException(f"no agent with phone {phone}")


_MUTUAL = click.option("--mutual", "code", required=True, help="Code of the mutual.")
_PHONE = click.option("--phone", required=True, help="The agent's phone, any usual notation.")


def _agent(session: Session, code: str, phone: str) -> Agent:
    mutual = mutual_named(session, code)
    try:
        msisdn = normalize_msisdn(phone, mutual.country)
    except InvalidPhone as exc:
        raise click.ClickException(str(exc)) from None
    query = select(Agent).where(Agent.mutual_id == mutual.id, Agent.msisdn == msisdn)
    agent = session.scalars(query).one_or_none()
    if agent is None:
        raise click.ClickException(f"no agent with phone {phone} in {code}")
    return agent


@agents_group.command("deactivate")
@_MUTUAL
@_PHONE
@pass_ctx
def agents_deactivate(ctx: CliContext, code: str, phone: str) -> None:
    """Deactivate an agent: their PIN is refused from now on (D19); history stays."""
    with ctx.session() as session:
        changed = set_agent_active(session, _agent(session, code, phone), False)
    click.echo(f"agent {phone} {'deactivated' if changed else 'was already inactive'}")


@agents_group.command("activate")
@_MUTUAL
@_PHONE
@pass_ctx
def agents_activate(ctx: CliContext, code: str, phone: str) -> None:
    """Reactivate a deactivated agent."""
    with ctx.session() as session:
        changed = set_agent_active(session, _agent(session, code, phone), True)
    click.echo(f"agent {phone} {'reactivated' if changed else 'was already active'}")


@agents_group.command("unlock")
@_MUTUAL
@_PHONE
@pass_ctx
def agents_unlock(ctx: CliContext, code: str, phone: str) -> None:
    """Lift the lock of three wrong PINs (D19) before its 15 minutes run out."""
    with ctx.session() as session:
        changed = unlock_agent(session, _agent(session, code, phone))
    click.echo(f"agent {phone} {'unlocked' if changed else 'was not locked'}")


@agents_group.command("reset-pin")
@_MUTUAL
@_PHONE
@click.option(
    "--pin", prompt="New PIN", hide_input=True, confirmation_prompt=True, help="Read on stdin."
)
@pass_ctx
def agents_reset_pin(ctx: CliContext, code: str, phone: str, pin: str) -> None:
    """A new PIN (4 to 6 digits, read on stdin: never in the shell's history); lifts a lock."""
    with ctx.session() as session:
        try:
            reset_pin(session, _agent(session, code, phone), pin.strip())
        except AgentError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"agent {phone}: new PIN saved")


COMMANDS: list[click.Command] = []  # the commands above join the `agents` group
