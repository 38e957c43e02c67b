"""The USSD state machine (ussd.md): hop (one request in, one reply out, idempotent), engine/
(screens as data, rendering, sessions, the catalog, the port, the validator) and journeys/
(member, payment, visitor, agent, cash, remittance: screens, actions and views)."""
