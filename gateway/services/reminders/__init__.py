"""Campaign reminders (D14-D18): who is due, what is sent, what it costs.

- cost: A campaign's SMS cost before it starts (messaging.md, "Text and cost"): recipients x
- daily: D15 "a household gets at most one campaign reminder a day": the most specific is sent,
  the others recorded skipped.
- due: Campaign reminders (D14-D17; messaging.md, "Campaign reminders"): the occurrences due now.
- record: D17 for reminders: each (household, campaign, rule, occurrence) row is inserted with ON
- targets: Who a campaign's reminders go to, and with what amount (D6, D15, D18), for a whole
  mutual
"""

from gateway.services.reminders.cost import estimate_campaign
from gateway.services.reminders.due import (
    run_reminders,
    zone,
)
from gateway.services.reminders.targets import select_targets

__all__ = [
    "estimate_campaign",
    "run_reminders",
    "select_targets",
    "zone",
]
