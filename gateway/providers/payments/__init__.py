"""Payment provider adapters behind one interface (base.py), built by name."""

from __future__ import annotations

from contextlib import AbstractContextManager
from importlib import import_module
from typing import Protocol

from sqlalchemy.orm import Session

from gateway.clock import Clock
from gateway.services.payments import PaymentProvider
from gateway.settings import Settings

# name -> "module:factory"; each factory takes the Host and returns a PaymentProvider.
ADAPTERS = {
    "sandbox": "gateway.providers.payments.sandbox:build",
    "cinetpay": "gateway.providers.payments.cinetpay:build",
    "mtnmomo": "gateway.providers.payments.mtnmomo:build",
}


class Host(Protocol):
    """What an adapter is built from: its process's gateway.runtime.Runtime. Only the sandbox,
    whose memory is a table, opens units of work."""

    @property
    def settings(self) -> Settings: ...

    @property
    def clock(self) -> Clock: ...

    def session(self) -> AbstractContextManager[Session]: ...


def payment_provider(name: str, host: Host) -> PaymentProvider:
    try:
        module, factory = ADAPTERS[name].split(":")
    except KeyError:
        raise ValueError(
            f"unknown payment provider {name!r}; known: {', '.join(sorted(ADAPTERS))}"
        ) from None
    built: PaymentProvider = getattr(import_module(module), factory)(host)
    return built
