"""Production start-up refusals that need the database (issue 15): settings alone cannot tell
that a mutual loaded earlier still has the sandbox as its payment provider.

`gateway web`, `gateway worker`, `gateway run` and gunicorn's master (deploy/gunicorn.conf.py)
call `check_start` before serving: in production, a mutual whose `payment_provider` is
`sandbox` stops the process with one line per mutual, unless the operator opted in with
GATEWAY_ALLOW_SANDBOX_IN_PRODUCTION, in which case every start logs a loud warning."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import Mutual
from gateway.runtime import Runtime
from gateway.settings import SANDBOX_OPT_IN, Settings, SettingsError

log = logging.getLogger(__name__)


def sandbox_mutuals(session: Session) -> list[str]:
    """Codes of the mutuals whose payments go to the sandbox provider (no money moves)."""
    query = select(Mutual.code).where(Mutual.payment_provider == "sandbox").order_by(Mutual.code)
    return list(session.scalars(query))


def start_problems(settings: Settings, session: Session) -> list[str]:
    """What forbids this process to start in production; empty outside production."""
    if not settings.production:
        return []
    codes = sandbox_mutuals(session)
    if settings.allow_sandbox_in_production:
        if codes or settings.sandbox_auto != "off":
            log.warning(
                "PRODUCTION RUNS THE SANDBOX PAYMENT PROVIDER (GATEWAY_ALLOW_SANDBOX_IN_PRODUCTION"
                "=%s): mutuals %s, GATEWAY_SANDBOX_AUTO=%s; payments are credited that no "
                "provider collected",
                SANDBOX_OPT_IN,
                ", ".join(codes) or "none",
                settings.sandbox_auto,
            )
        return []
    return [
        f"mutual {code}: payment_provider is sandbox, refused in production (no money moves): "
        f"load it with a real provider, or set GATEWAY_ALLOW_SANDBOX_IN_PRODUCTION"
        for code in codes
    ]


def check_start(runtime: Runtime) -> None:
    """Raise SettingsError (one line per problem) when production must not start."""
    if not runtime.settings.production:
        return
    with runtime.session() as session:
        problems = start_problems(runtime.settings, session)
    if problems:
        raise SettingsError(problems)
