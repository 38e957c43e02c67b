"""Payment provider adapters behind one interface (base.py), built by name."""

from __future__ import annotations

from importlib import import_module

from gateway.services.payments import PaymentProvider
from gateway.settings import Settings

# name -> "module:factory"; each factory takes the Settings and returns a PaymentProvider.
ADAPTERS = {
    "sandbox": "gateway.providers.payments.sandbox:build",
    "cinetpay": "gateway.providers.payments.cinetpay:build",
    "mtnmomo": "gateway.providers.payments.mtnmomo:build",
}


def payment_provider(name: str, settings: Settings) -> PaymentProvider:
    try:
        module, factory = ADAPTERS[name].split(":")
    except KeyError:
        raise ValueError(
            f"unknown payment provider {name!r}; known: {', '.join(sorted(ADAPTERS))}"
        ) from None
    built: PaymentProvider = getattr(import_module(module), factory)(settings)
    return built
