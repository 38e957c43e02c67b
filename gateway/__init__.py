"""USSD/SMS member-service gateway for community health mutuals."""

__version__ = "0.1.0"
