"""`GET /simulator`: a web phone that drives the USSD webhook exactly as the aggregator does,
for demos and training. Development and test only: production answers 404.

The page is one self-contained file (inline CSS and JS, no external assets) so that it works
offline on a laptop in a training room."""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, abort, jsonify, render_template, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.handlers import request_session, runtime
from gateway.lib.phones import InvalidPhone, normalize_msisdn
from gateway.models import Agent, Household, HouseholdPhone, Mutual
from gateway.services.messaging import outbox_row, recent_messages

bp = Blueprint("simulator", __name__)
HOP_PATH = "/ussd/africastalking"
EVENTS_PATH = "/ussd/africastalking/events"
SMS_PATH = "/simulator/sms"
SMS_SHOWN = 20
DEFAULT_SERVICE_CODE = "*144*7#"
VISITOR_PHONE = "+22665000000"  # outside the demo's number plan: the visitor menu
MEMBER_PHONES_SHOWN = 6
NETWORKS = (("61302", "Orange BF"), ("61301", "Moov BF"), ("61303", "Telecel BF"))


@bp.get("/simulator")
def simulator() -> str:
    """The phone page, with the demo's phones to pick from."""
    settings = runtime().settings
    if settings.production:
        abort(404)
    query = f"?token={quote(settings.ussd_token)}" if settings.ussd_token else ""
    session = request_session()
    config = {
        "webhook": HOP_PATH + query,
        "events": EVENTS_PATH + query,
        "serviceCode": _service_code(session),
        "screenLimit": settings.screen_limit,
        "sms": SMS_PATH,
        "smsEveryMs": 3000,
    }
    phones = _phone_book(session)
    default_phone = phones[0][0] if phones else VISITOR_PHONE
    return render_template(
        "simulator.html",
        config=config,
        phones=phones,
        default_phone=default_phone,
        networks=NETWORKS,
    )


@bp.get(SMS_PATH)
def sms_inbox() -> tuple[Response, int]:
    """The outbox messages to the simulated phone, newest first: what the sandbox SMS sink
    recorded (and their delivery status), polled by the page's SMS panel."""
    if runtime().settings.production:
        abort(404)
    raw = request.args.get("phone", "").strip()
    if not raw:
        return jsonify(error="phone is required, e.g. ?phone=%2B22670123412"), 400
    try:
        phone = normalize_msisdn(raw, "ZZ")
    except InvalidPhone as exc:
        return jsonify(error=f"phone must be E.164 (+ and digits): {exc}"), 400
    rows = [outbox_row(m) for m in recent_messages(request_session(), phone, SMS_SHOWN)]
    return jsonify(phone=phone, messages=rows), 200


def _service_code(session: Session) -> str:
    codes = session.scalars(select(Mutual.service_codes).order_by(Mutual.id).limit(1)).first()
    return codes[0] if codes else DEFAULT_SERVICE_CODE


def _phone_book(session: Session) -> list[tuple[str, str]]:
    """(phone, label): a few members, the agents, and an unknown phone, from the database."""
    members = session.execute(
        select(HouseholdPhone.msisdn, Household.number)
        .join(Household)
        .order_by(HouseholdPhone.id)
        .limit(MEMBER_PHONES_SHOWN)
    ).all()
    book = [(phone, f"member, household {number}") for phone, number in members]
    agents = session.execute(
        select(Agent.msisdn, Agent.role).order_by(Agent.id).limit(MEMBER_PHONES_SHOWN)
    ).all()
    book += [(phone, f"agent ({role})") for phone, role in agents]
    if VISITOR_PHONE not in {phone for phone, _ in book}:
        book.append((VISITOR_PHONE, "unknown phone (visitor)"))
    return book
