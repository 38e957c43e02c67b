"""One place that attaches every command module to the `gateway` group."""

from __future__ import annotations

import click


def register(group: click.Group) -> None:
    from gateway.cli import (
        agents,
        alerts,
        allocation,
        checks,
        coverage,
        data,
        db,
        enrolments,
        events,
        indicators,
        ledger,
        messaging,
        notices,
        operators,
        reconciliation,
        reminders,
        reports,
        serve,
        ussd,
    )

    for module in (
        alerts,
        allocation,
        checks,
        db,
        coverage,
        indicators,
        ledger,
        messaging,
        notices,
        operators,
        reconciliation,
        reminders,
        reports,
        serve,
        data,
        agents,  # after data: adds to its `agents` group
        events,  # adds `event` to data's `members` group
        enrolments,
        ussd,
    ):
        for command in module.COMMANDS:
            group.add_command(command)
