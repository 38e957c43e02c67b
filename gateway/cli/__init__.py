"""The `gateway` command. Sub-commands live in sibling modules and register on `main`."""

from __future__ import annotations

import sys

import click

from gateway.cli.context import CliContext


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def main(ctx: click.Context) -> None:
    """USSD/SMS member-service gateway for community health mutuals."""
    ctx.obj = ctx.with_resource(CliContext())


def _register() -> None:
    # Imported here so that each module can import `main` without a cycle.
    from gateway.cli import commands

    commands.register(main)


_register()

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
