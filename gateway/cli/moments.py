"""What the scheduler's jobs take on the command line: `--now ISO-DATETIME` (run as if it were
that moment) and `--json`, and how a run's counts are printed. Shared by `gateway reminders
run` and `gateway notices run`."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from typing import TypeVar

import click

F = TypeVar("F", bound=Callable[..., object])


def parse_now(value: str | None) -> dt.datetime | None:
    """An ISO datetime, UTC when it gives no offset; None when not given."""
    if value is None:
        return None
    try:
        now = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"not an ISO datetime: {value!r}", param_hint="--now") from None
    return now if now.tzinfo else now.replace(tzinfo=dt.UTC)


def run_options(func: F) -> F:
    """`--now` (as `now_text`) and `--json` (as `as_json`)."""
    func = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")(func)
    return click.option(
        "--now",
        "now_text",
        metavar="ISO-DATETIME",
        help="Run as if it were this moment (UTC unless an offset is given); default: now.",
    )(func)


def echo_counts(title: str, now: dt.datetime, counts: Mapping[str, int], as_json: bool) -> None:
    """`{"now": ..., counts}` as JSON, or a title line and one `name: value` line per count."""
    if as_json:
        click.echo(json.dumps({"now": now.isoformat(), **counts}))
        return
    click.echo(f"{title} at {now.isoformat()}")
    for name, value in counts.items():
        click.echo(f"{name.replace('_', ' ')}: {value}")
