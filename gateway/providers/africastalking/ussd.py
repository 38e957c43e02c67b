"""Africa's Talking USSD hops (ussd.md): the form read into the engine's `UssdRequest`, the
engine's `UssdReply` formatted as `CON ...` / `END ...`; the adapter behind `UssdProvider`."""

from __future__ import annotations

import re
from collections.abc import Mapping

from gateway.menus.engine.port import MalformedUssdRequest, UssdReply, UssdRequest
from gateway.providers.africastalking import PROVIDER
from gateway.providers.africastalking.form import AtForm, MalformedForm

MAX_SESSION_ID = 128
MAX_SERVICE_CODE = 32
MAX_NETWORK = 16
MAX_TEXT = 500  # a real session's accumulated input stays far below this
_SESSION_ID = re.compile(r"[\x21-\x7e]+")  # printable ASCII, no spaces
# Keypads send digits, * and #; smartphones' USSD reply boxes also let people type letters,
# which the menus answer with a re-prompt. Control characters are never input.
_TEXT = re.compile(r"[^\x00-\x1f\x7f]*")


class AfricasTalkingUssd:
    """Africa's Talking: `sessionId`, `serviceCode`, `phoneNumber`, `networkCode`, `text`;
    answers `CON ...` / `END ...` in text/plain."""

    name = PROVIDER

    def parse(self, form: Mapping[str, str]) -> UssdRequest:
        """The hop, or MalformedUssdRequest (the engine's word for it) with the reader's reason."""
        try:
            return self._read(AtForm(form))
        except MalformedForm as exc:
            raise MalformedUssdRequest(str(exc)) from None

    def format(self, reply: UssdReply) -> tuple[str, str]:
        """`CON`/`END` chosen by the screen's kind, never by the text."""
        return ("END " if reply.end else "CON ") + reply.text, "text/plain; charset=utf-8"

    def _read(self, form: AtForm) -> UssdRequest:
        session_id = form.required("sessionId", MAX_SESSION_ID)
        if not _SESSION_ID.fullmatch(session_id):
            raise MalformedForm("sessionId has unexpected characters")
        text = form.present("text", MAX_TEXT)  # "" on the first hop
        if not _TEXT.fullmatch(text):
            raise MalformedForm("text must be printable input, without control characters")
        return UssdRequest(
            session_id=session_id,
            service_code=form.optional("serviceCode", MAX_SERVICE_CODE) or "",
            phone=form.phone("phoneNumber"),
            network_code=form.optional("networkCode", MAX_NETWORK),
            text=text,
            provider=self.name,
        )
