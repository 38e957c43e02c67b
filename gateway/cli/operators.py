"""`gateway users add` (the first admin, console.md), `gateway unions add|attach` (D27) and
`gateway tokens add|list|revoke` (the JSON API's bearer tokens, issue 17): operators of the
console, the unions that group mutuals, and API clients. Each change records one
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
    add_token,
    add_union,
    add_user,
    attach_mutual,
    describe,
    list_tokens,
    parse_scope,
    revoke_token,
    token_scope,
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


@click.group("tokens")
def tokens_group() -> None:
    """Bearer tokens of the JSON API under /api/v1 (issue 17)."""


@tokens_group.command("add")
@click.option("--name", required=True, help="A unique name (the client), shown in the logs.")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--scope", required=True, help="all, union:CODE, mutual:CODE or section:CODE/NAME.")
@pass_ctx
def tokens_add(ctx: CliContext, name: str, role: str, scope: str) -> None:
    """Create a token; it is printed once (only its hash is kept)."""
    with ctx.session() as session:
        try:
            made = add_token(
                session,
                CLI,
                name=name,
                role=Role(role),
                scope=parse_scope(session, scope),
                now=ctx.clock.now(),
            )
        except OperatorError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"token {name} ({role}, {scope}) created; shown once, keep it now:")
    click.echo(made.secret)


@tokens_group.command("list")
@pass_ctx
def tokens_list(ctx: CliContext) -> None:
    """Every token: name, role, scope, created, last used, revoked (never the token)."""
    with ctx.session() as session:
        for row in list_tokens(session):
            scope = describe(token_scope(row))
            used = row.last_used_at.isoformat() if row.last_used_at else "never"
            state = f"revoked {row.revoked_at.isoformat()}" if row.revoked_at else "live"
            click.echo(
                f"{row.name}\t{row.role}\t{scope}\tcreated {row.created_at.isoformat()}"
                f"\tused {used}\t{state}"
            )


@tokens_group.command("revoke")
@click.argument("name")
@pass_ctx
def tokens_revoke(ctx: CliContext, name: str) -> None:
    """Revoke the token NAME: its next request is answered 401."""
    with ctx.session() as session:
        try:
            revoke_token(session, CLI, name, now=ctx.clock.now())
        except OperatorError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"token {name} revoked")


COMMANDS: list[click.Command] = [users_group, unions_group, tokens_group]
