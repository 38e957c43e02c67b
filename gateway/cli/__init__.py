"""The `gateway` command. Sub-commands live in sibling modules and register on `main`."""

from __future__ import annotations

import sys

import click

from gateway.cli.context import CliContext

# The commands that create or move the schema themselves (`run` migrates before it serves).
SCHEMA_MAKERS = ("db", "run")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def main(ctx: click.Context) -> None:
    """USSD/SMS member-service gateway for community health mutuals."""
    ctx.obj = ctx.with_resource(CliContext())
    # No sub-command (a caller wiring the context itself): nothing to check against.
    ctx.obj.check_schema = ctx.invoked_subcommand not in (None, *SCHEMA_MAKERS)


def _register() -> None:
    # Imported here so that each module can import `main` without a cycle.
    from gateway.cli import commands

    commands.register(main)


_register()

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
