"""A local CinetPay checkout API v2, following docs.cinetpay.com (initialisation, verification,
notification, X-TOKEN HMAC, code table), scriptable per transaction.

Endpoints:
- `POST /v2/payment` (JSON): checks apikey (else 609 AUTH_NOT_FOUND), site_id (else 613
  ERROR_SITE_ID_NOTVALID), the required fields and an integer amount multiple of 5 (else 608
  MINIMUM_REQUIRED_FIELDS); answers `{"code": "201", "message": "CREATED", "data":
  {"payment_token", "payment_url"}}`. A repeated transaction_id is answered as the same payment.
- `POST /v2/payment/check` (JSON apikey, site_id, transaction_id): `00 SUCCES` with data.status
  `ACCEPTED`, `662 WAITING_CUSTOMER_PAYMENT` with `PENDING`, or a failure code with `REFUSED`.
  An unknown transaction gets HTTP 404 `{"code": "404", "message": "TRANSACTION_NOT_FOUND"}`:
  an assumption, the documentation does not say.
- Notifications: `notification(txn)` builds the POST form and `x-token` header (HMAC-SHA256 of
  the documented fields, keyed by the secret key); `send_notification(txn)` POSTs it to the
  transaction's notify_url (or `url=`); `ping(url)` is CinetPay's GET.

Scripting (`fake.script(transaction_id, **fields of Script)`, or `fake.default`):
- `outcome`: "success" | "failure" | "pending" (stuck); `failure_code` ("600", "602", "627"...)
- `pending_checks`: checks answered "waiting" before the outcome (delayed success)
- `amount`: the amount CinetPay reports (check and notifications), e.g. "100.5" or "95"
- `initiate_http` / `initiate_delay`: answer initiation with that HTTP status (500: the
  transaction is still created) or only after that many seconds (client timeout)
- `check_http` / `check_delay`: the same for checks
- `notify`: notifications POSTed automatically (duplicates when > 1) `notify_delay` s after
  initiation; 0 = no callback. `settle(txn, outcome)` changes the outcome later.

Every request is in `fake.requests` / `fake.received(method, path)`; transactions in
`fake.transactions`."""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

import requests

from gateway.providers.payments.cinetpay import FAILED_CODES, notify_token
from gateway.providers.payments.common import split_msisdn
from tests.support.fakes.server import FakeServer, Recorded, Reply

REQUIRED = (
    "apikey",
    "site_id",
    "transaction_id",
    "amount",
    "currency",
    "description",
    "notify_url",
    "return_url",
    "channels",
)


@dataclass
class Script:
    outcome: str = "success"
    failure_code: str = "600"
    pending_checks: int = 0
    amount: str | None = None
    initiate_http: int | None = None
    initiate_delay: float = 0.0
    check_http: int | None = None
    check_delay: float = 0.0
    notify: int = 0
    notify_delay: float = 0.05


@dataclass
class Transaction:
    transaction_id: str
    site_id: str
    amount: int
    currency: str
    description: str
    notify_url: str
    phone: str
    metadata: str
    script: Script
    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    checks: int = 0


class CinetPayFake(FakeServer):
    def __init__(
        self, api_key: str = "cp-api-key", site_id: str = "445160", secret_key: str = "cp-secret"
    ) -> None:
        super().__init__()
        self.api_key, self.site_id, self.secret_key = api_key, site_id, secret_key
        self.default = Script()
        self.scripts: dict[str, Script] = {}
        self.transactions: dict[str, Transaction] = {}
        self.notify_results: list[int] = []  # HTTP statuses our notifications got back

    def script(self, transaction_id: str, **fields: Any) -> Script:
        self.scripts[transaction_id] = replace(self.default, **fields)
        return self.scripts[transaction_id]

    def settle(self, transaction_id: str, outcome: str, failure_code: str = "600") -> None:
        txn = self.transactions[transaction_id]
        txn.script = replace(txn.script, outcome=outcome, failure_code=failure_code)

    def handle(self, request: Recorded) -> Reply:
        if request.method == "POST" and request.path == "/v2/payment":
            return self._initiate(request)
        if request.method == "POST" and request.path == "/v2/payment/check":
            return self._check(request)
        return Reply(404, {"code": "404", "message": "NOT_FOUND"})

    # -- API -----------------------------------------------------------------------------

    def _refusal(self, body: dict[str, Any]) -> Reply | None:
        if body.get("apikey") != self.api_key:
            return Reply(401, {"code": "609", "message": "AUTH_NOT_FOUND"})
        if str(body.get("site_id")) != self.site_id:
            return Reply(400, {"code": "613", "message": "ERROR_SITE_ID_NOTVALID"})
        return None

    def _initiate(self, request: Recorded) -> Reply:
        body = _json(request)
        refused = self._refusal(body)
        if refused:
            return refused
        missing = [name for name in REQUIRED if body.get(name) in (None, "")]
        amount = body.get("amount")
        if missing or not isinstance(amount, int) or isinstance(amount, bool) or amount % 5:
            detail = f"missing: {', '.join(missing)}" if missing else "amount: multiple of 5"
            return Reply(
                400, {"code": "608", "message": "MINIMUM_REQUIRED_FIELDS", "description": detail}
            )
        txn_id = str(body["transaction_id"])
        script = self.scripts.get(txn_id, self.default)
        with self.lock:
            txn = self.transactions.get(txn_id)
            if txn is None:
                txn = self.transactions[txn_id] = Transaction(
                    txn_id,
                    str(body["site_id"]),
                    amount,
                    str(body["currency"]),
                    str(body["description"]),
                    str(body["notify_url"]),
                    str(body.get("customer_phone_number") or ""),
                    str(body.get("metadata") or ""),
                    script,
                )
                self._schedule_notifications(txn)
        if script.initiate_http and script.initiate_http >= 400:
            return Reply(script.initiate_http, b"Internal error", delay=script.initiate_delay)
        data = {"payment_token": txn.token, "payment_url": f"{self.url}/pay/{txn.token}"}
        created = {
            "code": "201",
            "message": "CREATED",
            "description": "Transaction created with success",
            "data": data,
            "api_response_id": uuid.uuid4().hex,
        }
        return Reply(200, created, delay=script.initiate_delay)

    def _check(self, request: Recorded) -> Reply:
        body = _json(request)
        refused = self._refusal(body)
        if refused:
            return refused
        with self.lock:
            txn = self.transactions.get(str(body.get("transaction_id")))
            if txn is None:
                return Reply(404, {"code": "404", "message": "TRANSACTION_NOT_FOUND"})
            txn.checks += 1
            script, state = txn.script, self.state_of(txn)
        if script.check_http:
            return Reply(script.check_http, b"Service unavailable", delay=script.check_delay)
        code, message, status = {
            "success": ("00", "SUCCES", "ACCEPTED"),
            "pending": ("662", "WAITING_CUSTOMER_PAYMENT", "PENDING"),
            "failure": (
                script.failure_code,
                FAILED_CODES.get(script.failure_code, "PAYMENT_FAILED"),
                "REFUSED",
            ),
        }[state]
        data = {
            "amount": script.amount if script.amount is not None else str(txn.amount),
            "currency": txn.currency,
            "status": status,
            "payment_method": "OM",
            "description": txn.description,
            "metadata": txn.metadata,
            "operator_id": f"MP{txn.transaction_id[-8:]}" if state == "success" else None,
            "payment_date": "2026-11-24 10:00:00" if state == "success" else "",
        }
        answer = {
            "code": code,
            "message": message,
            "data": data,
            "api_response_id": uuid.uuid4().hex,
        }
        return Reply(200, answer, delay=script.check_delay)

    def state_of(self, txn: Transaction) -> str:
        """What the check says now: waiting during `pending_checks`, then the outcome."""
        if txn.script.outcome == "pending" or txn.checks <= txn.script.pending_checks:
            return "pending"
        return txn.script.outcome

    # -- notifications -------------------------------------------------------------------

    def notification(
        self, transaction_id: str, *, state: str | None = None, amount: str | None = None
    ) -> tuple[dict[str, str], dict[str, str]]:
        """(form, headers) of a signed notification; `state` success|failure|pending."""
        txn = self.transactions[transaction_id]
        state = state or (txn.script.outcome if txn.script.outcome != "pending" else "pending")
        message = {
            "success": "SUCCES",
            "pending": "WAITING_CUSTOMER_PAYMENT",
            "failure": FAILED_CODES.get(txn.script.failure_code, "PAYMENT_FAILED"),
        }[state]
        prefix, national = split_msisdn(txn.phone) if txn.phone else ("", "")
        form = {
            "cpm_site_id": txn.site_id,
            "cpm_trans_id": txn.transaction_id,
            "cpm_trans_date": "2026-11-24 10:00:00",
            "cpm_amount": amount or txn.script.amount or str(txn.amount),
            "cpm_currency": txn.currency,
            "signature": hashlib.sha256(f"{txn.token}:{message}".encode()).hexdigest(),
            "payment_method": "OM",
            "cel_phone_num": national,
            "cpm_phone_prefixe": prefix,
            "cpm_language": "fr",
            "cpm_version": "V4",
            "cpm_payment_config": "SINGLE",
            "cpm_page_action": "PAYMENT",
            "cpm_custom": txn.metadata,
            "cpm_designation": txn.description,
            "cpm_error_message": message,
        }
        return form, {"x-token": notify_token(form, self.secret_key)}

    def send_notification(self, transaction_id: str, url: str | None = None, **kw: Any) -> int:
        form, headers = self.notification(transaction_id, **kw)
        target = url or self.transactions[transaction_id].notify_url
        status = requests.post(target, data=form, headers=headers, timeout=5).status_code
        self.notify_results.append(status)
        return status

    def ping(self, url: str) -> int:
        return requests.get(url, timeout=5).status_code

    def _schedule_notifications(self, txn: Transaction) -> None:
        if not txn.script.notify:
            return

        def deliver() -> None:
            time.sleep(txn.script.notify_delay)
            for _ in range(txn.script.notify):
                try:
                    self.send_notification(txn.transaction_id)
                except requests.RequestException:
                    self.notify_results.append(0)

        threading.Thread(target=deliver, daemon=True).start()


def _json(request: Recorded) -> dict[str, Any]:
    try:
        body = request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
