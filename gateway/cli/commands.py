"""One place that attaches every command module to the `gateway` group."""

from __future__ import annotations

import click


def register(group: click.Group) -> None:
    from gateway.cli import (
        agent_commands,
        alert_commands,
        data_commands,
        db_commands,
        eligibility_commands,
        ledger_commands,
        outbox_commands,
        reconcile_commands,
        reminder_commands,
        serve_commands,
        ussd_commands,
    )

    for module in (
        alert_commands,
        db_commands,
        eligibility_commands,
        ledger_commands,
        outbox_commands,
        reconcile_commands,
        reminder_commands,
        serve_commands,
        data_commands,
        agent_commands,  # after data_commands: adds to its `agents` group
        ussd_commands,
    ):
        for command in module.COMMANDS:
            group.add_command(command)
