"""`gateway users add` (the first admin, console.md) and `gateway unions add|attach` (D27):
operators of the console and the unions that group mutuals. Each change records one
`operator_actions` row with no user (the server's command line)."""

from __future__ import annotations

import sys

import click

from gateway.cli.context import CliContext
from gateway.models import Role
from gateway.services.operators import (
    Actor,
    OperatorError,
    PasswordError,
    add_union,
    add_user,
    attach_mutual,
    parse_scope,
)

pass_ctx = click.make_pass_decorator(CliContext)
CLI = Actor(user_id=None, ip=None)


@click.group("users")
def users_group() -> None:
    """Operators of the console (D27)."""


@users_group.command("add")
@click.option("--login", required=True, help="Email or phone (+E.164) the user signs in with.")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--scope", required=True, help="all, union:CODE, mutual:CODE or section:CODE/NAME.")
@click.option("--name", default="", help="The person's name, as the console shows it.")
@click.option("--language", type=click.Choice(["fr", "en"]), default="fr")
@pass_ctx
def users_add(ctx: CliContext, login: str, role: str, scope: str, name: str, language: str) -> None:
    """Create an operator; the password is read on stdin (never an argument). Admin and
    finance get a TOTP secret: its provisioning URI is printed once, for their app."""
    password = _read_password()
    with ctx.session() as session:
        try:
            created = add_user(
                session,
                CLI,
                login=login,
                password=password,
                role=Role(role),
                scope=parse_scope(session, scope),
                now=ctx.clock.now(),
                name=name,
                language=language,
            )
        except (OperatorError, PasswordError) as exc:
            raise click.ClickException(str(exc)) from exc
        user_login, user_id = created.user.login, created.user.id
    click.echo(f"user #{user_id} {user_login} ({role}, {scope}) created")
    if created.totp_uri:
        click.echo("TOTP (shown once: add it to an authenticator app now):")
        click.echo(created.totp_uri)


def _read_password() -> str:
    """A terminal asks twice, hidden; otherwise the first line of stdin."""
    if sys.stdin.isatty():
        entered = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        return str(entered)
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise click.ClickException("no password on stdin")
    return line


@click.group("unions")
def unions_group() -> None:
    """Unions of mutuals (D22 roll-ups, D27 scopes)."""


@unions_group.command("add")
@click.argument("code")
@click.argument("name")
@pass_ctx
def unions_add(ctx: CliContext, code: str, name: str) -> None:
    """Create a union."""
    with ctx.session() as session:
        try:
            add_union(session, CLI, code, name, now=ctx.clock.now())
        except OperatorError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"union {code} created")


@unions_group.command("attach")
@click.argument("mutual")
@click.argument("union", required=False)
@pass_ctx
def unions_attach(ctx: CliContext, mutual: str, union: str | None) -> None:
    """Put MUTUAL in UNION (no UNION: take it out of its union)."""
    with ctx.session() as session:
        try:
            attach_mutual(session, CLI, mutual, union, now=ctx.clock.now())
        except OperatorError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"mutual {mutual} is in union {union}" if union else f"mutual {mutual} in no union")


COMMANDS: list[click.Command] = [users_group, unions_group]
