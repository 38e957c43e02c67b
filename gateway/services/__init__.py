"""The domain, one package per capability; each package's __init__ is its public face, and code
outside a capability imports only that. A capability imports only those of a lower rank
(tests/test_architecture.py, RANKS):

0. alerts (operator alerts), ussd_audit (the USSD hop audit): cross-cutting modules
1. ledger: the double-entry ledger and its chart of accounts
2. coverage: D1-D13, from periods to eligibility
3. messaging: the SMS outbox, batches, inbound keywords
4. mutuals (the TOML file), members (the register's import)
5. agents, payments, reminders
6. reconciliation
"""
