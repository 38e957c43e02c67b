"""SMS (messaging.md): the outbox, batch sending and campaign pauses, inbound keywords.

- batches: Batch sending (messaging.md, "Throughput") and campaign pauses, on top of the per-
  message
- fit: Does every SMS template fit one segment, with the opt-out reserve, once a mutual's own
  values are in it (issue 15)?
- inbound: Incoming SMS and opt-out notifications (messaging.md, D18): keywords, consent,
  replies.
- outbox: Queueing SMS (messaging.md): render a catalog template, check it fits one segment, and
  put
- port: The SMS sending port (messaging.md): `SmsProvider` and its `SendResult`, which the
  adapters implement.
- window: The sending window (D16): between a mutual's `quiet_hours_end` and
  `quiet_hours_start`.
"""

from gateway.services.messaging.batches import (
    Answer,
    apply_answers,
    claim_batch,
    find_campaign,
    pause_campaign,
    pending_batches,
    resume_campaign,
)
from gateway.services.messaging.fit import (
    LONGEST,
    Overflow,
    longest,
    overflows,
)
from gateway.services.messaging.inbound import (
    Inbound,
    apply_optout,
    handle_inbound,
)
from gateway.services.messaging.outbox import (
    DELIVERY_STATUSES,
    TEMPLATE_KEYS,
    UNDELIVERED,
    apply_delivery_report,
    outbox_row,
    pending_ids,
    queue_new_sms,
    queue_sms,
    recent_messages,
    render_sms,
    requeue_stale_sending,
    room_left,
    sender_id,
)
from gateway.services.messaging.port import (
    Outcome,
    SendResult,
    SmsProvider,
)
from gateway.services.messaging.resend import RESENDABLE, NotResendable, resend_failed
from gateway.services.messaging.window import (
    in_window,
    window_opens,
)

__all__ = [
    "DELIVERY_STATUSES",
    "LONGEST",
    "RESENDABLE",
    "TEMPLATE_KEYS",
    "UNDELIVERED",
    "Answer",
    "Inbound",
    "NotResendable",
    "Outcome",
    "Overflow",
    "SendResult",
    "SmsProvider",
    "apply_answers",
    "apply_delivery_report",
    "apply_optout",
    "claim_batch",
    "find_campaign",
    "handle_inbound",
    "in_window",
    "longest",
    "outbox_row",
    "overflows",
    "pause_campaign",
    "pending_batches",
    "pending_ids",
    "queue_new_sms",
    "queue_sms",
    "recent_messages",
    "render_sms",
    "requeue_stale_sending",
    "resend_failed",
    "resume_campaign",
    "room_left",
    "sender_id",
    "window_opens",
]
