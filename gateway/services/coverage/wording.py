"""The words of a standing (D6b, D11, D12) in a language: one source for the USSD screens,
SOLDE, the receipts and the collector's screen, so every surface says the same thing.

Keys live in the USSD catalog (gateway/locales): `hl_<HEADLINE>` for the household's
situation, `offer_line` / `offer_line_fee` for the amount offered and the period it buys,
`rc_rest` for what a receipt says is left to pay, `rc_held` for money held for an operator."""

from __future__ import annotations

from gateway.lib import formatting
from gateway.lib.catalogs import ussd_messages
from gateway.services.coverage.periods import period_label
from gateway.services.coverage.standing import Offer, OfferKind, Standing


def headline_text(standing: Standing, lang: str) -> str:
    """`À JOUR jusqu'au 31/12/2026`, `PAYÉ, couvert dès le 01/03/2027`, `PAS À JOUR`..."""
    text = ussd_messages(lang)[f"hl_{standing.headline.value}"]
    return text.format(until=formatting.day(standing.until), since=formatting.day(standing.from_))


def offer_text(offer: Offer, lang: str) -> str:
    """`Cotisation 2027: 7 000 FCFA` (the registration fee named when included); empty when
    nothing is offered."""
    if offer.kind == OfferKind.NONE or offer.amount <= 0:
        return ""
    key = "offer_line_fee" if offer.registration else "offer_line"
    return ussd_messages(lang)[key].format(period=_label(offer), amount=_money(offer, lang))


def status_text(standing: Standing, lang: str) -> str:
    """The headline, then the amount offered when there is one (SOLDE, the coverage screen)."""
    return ". ".join(
        p for p in (headline_text(standing, lang), offer_text(standing.offer, lang)) if p
    )


def remains(standing: Standing) -> bool:
    """After a payment: something is still to pay for the offered period (the amount due, or
    a renewal already partly paid, the household holding credit towards it)."""
    offered = standing.offer
    if offered.amount <= 0:
        return False
    partial = offered.kind == OfferKind.RENEWAL and standing.credit > 0
    return offered.kind == OfferKind.DUE or partial


def receipt_status(standing: Standing, lang: str) -> str:
    """What a receipt says after the money: what is left to pay and for which period, else
    the headline (covered until, paid and covered from...)."""
    if remains(standing):
        offered = standing.offer
        return ussd_messages(lang)["rc_rest"].format(
            period=_label(offered), amount=_money(offered, lang)
        )
    return headline_text(standing, lang)


def held_text(lang: str) -> str:
    """What a receipt says of a payment held for an operator (far above what is owed): no
    cover is promised for money not yet applied."""
    return ussd_messages(lang)["rc_held"]


def _label(offer: Offer) -> str:
    return period_label(offer.period) if offer.period is not None else ""


def _money(offer: Offer, lang: str) -> str:
    return formatting.money(offer.amount, lang)
