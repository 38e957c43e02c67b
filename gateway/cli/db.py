"""`gateway db upgrade | downgrade REV | current`."""

from __future__ import annotations

import click

from gateway import migrate
from gateway.cli.context import CliContext

pass_ctx = click.make_pass_decorator(CliContext)


@click.group("db")
def db() -> None:
    """Database migrations (Alembic, in migrations/)."""


@db.command("upgrade")
@click.argument("revision", default="head")
@pass_ctx
def upgrade(ctx: CliContext, revision: str) -> None:
    """Apply migrations up to REVISION (default: head)."""
    migrate.upgrade(ctx.settings.database_url, revision)
    click.echo(f"database at {migrate.current_revision(ctx.engine)}")


@db.command("downgrade")
@click.argument("revision")
@pass_ctx
def downgrade(ctx: CliContext, revision: str) -> None:
    """Revert migrations down to REVISION (`base` for an empty database)."""
    migrate.downgrade(ctx.settings.database_url, revision)
    click.echo(f"database at {migrate.current_revision(ctx.engine) or 'base'}")


@db.command("current")
@pass_ctx
def current(ctx: CliContext) -> None:
    """Print the database's current revision."""
    click.echo(migrate.current_revision(ctx.engine) or "base")


COMMANDS = [db]
