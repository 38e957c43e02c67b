"""One place that attaches every command module to the `gateway` group."""

from __future__ import annotations

import click


def register(group: click.Group) -> None:
    from gateway.cli import db_commands

    for module in (db_commands,):
        for command in module.COMMANDS:
            group.add_command(command)
