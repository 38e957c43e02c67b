"""The USSD engine: screens as data, rendering, the state machine, sessions, the catalog,
the request/reply port and the graph validator."""
