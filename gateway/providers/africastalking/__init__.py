"""Africa's Talking: one form reader (form) for every callback, the USSD adapter (ussd: hops,
ussd_events: session ends), the SMS sender (sms) and the SMS callbacks (sms_callbacks:
delivery reports, incoming SMS, opt-outs). Each depends on the domain's ports."""

# The provider's name on every row its callbacks create and in every USSD session key.
PROVIDER = "africastalking"
