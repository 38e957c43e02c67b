"""Does every SMS template fit one segment, with the opt-out reserve, once a mutual's own
values are in it (messaging.md; issue 15)? `gateway mutual load` asks before it writes: a help
SMS that does not fit is never sent (queue_sms refuses it), so a member who texts AIDE would
get nothing.

The other placeholders take the longest realistic value (LONGEST, and the longest standing of
D12 with the largest offer of D6b)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gateway.lib.catalogs import LANGUAGES, sms_templates
from gateway.services.coverage import held_text, receipt_status, sample_standings, status_text
from gateway.services.messaging.outbox import OPTOUT_RESERVE, TEMPLATE_KEYS, render_sms, room_left

# The longest realistic value of every placeholder (names cut as in D13, amounts up to
# 9 999 999 FCFA, a receipt reference: MM- and 8 characters, or a 6-character cash code).
LONGEST: dict[str, str] = {
    "mutual": "Mutuelle Sante Koudougou",
    "campaign": "Campagne 2027 Sud-Ouest",
    "household": "KDG-NORD-0001234",
    "amount": "9 999 999 FCFA",
    "due": "9 999 999 FCFA",
    "closes": "31/12/2027",
    "opens": "31/12/2027",
    "until": "31/12/2027",
    "reference": "MM-ABCDEFGH",
    "agent": "Aminata Ouedraogo Ki",
    "contact": "+226 70 12 34 56",
    "from": "31/12/2027",
    "count": "99",
    # D24: an enrolment's number, head's name (cut to 20), one card (a 10-letter first name
    # and a member number; more cards go in further messages) and a rejection's reason (cut
    # to fit at run time).
    "id": "9999999",
    "name": "Aminata Ouedraogo Ki",
    "cards": "Fatoumata- 900000019013",
    "reason": "Doublon du menage 900000019",
}


def longest(lang: str) -> dict[str, str]:
    """LONGEST with the longest standing a member can be sent in LANG (every headline of D12
    with the largest offer of D6b): `status` as SOLDE words it, `cover` as receipts do."""
    found = sample_standings()
    return {
        **LONGEST,
        "status": max((status_text(s, lang) for s in found), key=len),
        "cover": max([held_text(lang), *(receipt_status(s, lang) for s in found)], key=len),
    }


@dataclass(frozen=True)
class Overflow:
    """A template that does not fit with a mutual's values: `over` characters too many."""

    template: str
    language: str
    over: int
    placeholder: str  # the mutual's own value to shorten: mutual, contact or campaign

    def reason(self) -> str:
        return (
            f"the {self.template!r} SMS ({self.language}) is {self.over} character(s) over one "
            f"segment with the {OPTOUT_RESERVE}-character opt-out reserve: shorten it"
        )


def overflows(
    languages: Iterable[str], values: dict[str, str], placeholders: Iterable[str]
) -> list[Overflow]:
    """Every template, in each of `languages` the catalogs have, rendered with `values` (the
    mutual's own) over the longest others; `placeholders` (of `values`, most likely culprit
    first) are the ones an overflow is blamed on when its template uses them."""
    found = []
    for lang in (lang for lang in dict.fromkeys(languages) if lang in LANGUAGES):
        params = longest(lang) | values
        for key in TEMPLATE_KEYS:
            left = room_left(render_sms(key, lang, params))
            if left < 0:
                text = sms_templates(lang)[key]
                used = [p for p in placeholders if p in values and "{" + p + "}" in text]
                found.append(Overflow(key, lang, -left, used[0] if used else "mutual"))
    return found
