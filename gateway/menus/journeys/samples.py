"""The longest realistic values, for the validator: every screen is rendered with them in every
language and must still fit the budget (ussd.md). Views build their text with the same pure
functions for real data and for these samples, so what is checked is what is sent."""

from __future__ import annotations

# Shared with the SMS template checks (gateway.services.messaging.fit): one source.
from gateway.services.coverage import BIG_AMOUNT as BIG_AMOUNT
from gateway.services.coverage import LONG_DATE as LONG_DATE
from gateway.services.coverage import LONG_HOUSEHOLD as LONG_HOUSEHOLD

LONG_NAME = "Aminata-Fatoumata Ouedraogo-Kabore Zongo"  # 40 characters, the NAME_MAX
LONG_FAMILY = "Ouedraogo-Kabore-Zong"
LONG_NUMBER = "202612345678"  # what a member types: digits of a card number
LONG_MUTUAL = "Mutuelle de sante de Koudougou-Reo-Sabou"  # 40 characters
LONG_CONTACT = (
    "Mutuelle de Koudougou: 70 00 00 09 ou 76 00 00 09, lundi-vendredi 8h-17h, samedi 8h-12h"
)
BIG_HOUSEHOLD = 7  # members of a large household, paginated
LONG_COPAY = {"csps": 10, "cma": 20, "chr": 30, "chu": 40}
LONG_TIME = "23:59"
