"""A local fake of Africa's Talking's SMS API (POST /version1/messaging) answering as its
documents say: one Recipients row per number with statusCode 100-102 accepted (cost,
messageId), 4xx/5xx codes with messageId "None"; or an HTTP error, a delay, raw text."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

STATUS = {
    100: "Processed",
    101: "Success",
    102: "Queued",
    403: "InvalidPhoneNumber",
    405: "InsufficientBalance",
    500: "InternalServerError",
}


class FakeAt:
    """What the fake answers: a status code per number, or a delay, or raw text."""

    def __init__(self) -> None:
        self.codes: dict[str, int] = {}
        self.delay_s = 0.0
        self.http_status = 201
        self.content_type = "application/json"
        self.requests: list[dict[str, list[str]]] = []


@contextlib.contextmanager
def running_fake_at() -> Iterator[tuple[FakeAt, str]]:
    """The fake on a free loopback port: (its state, its base URL)."""
    state = FakeAt()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            size = int(self.headers.get("Content-Length", "0"))
            form = parse_qs(self.rfile.read(size).decode())
            form["_path"] = [self.path]
            form["_apikey"] = [self.headers.get("apiKey", "")]
            state.requests.append(form)
            time.sleep(state.delay_s)
            recipients = [
                {
                    "statusCode": (code := state.codes.get(number, 101)),
                    "number": number,
                    "status": STATUS.get(code, "Failed"),
                    "cost": "XOF 25.0000" if code < 200 else "0",
                    "messageId": f"ATXid_{len(state.requests)}_{number[-4:]}"
                    if code < 200
                    else "None",
                }
                for number in form["to"][0].split(",")
            ]
            body = {
                "SMSMessageData": {
                    "Message": "Sent to 1/1 Total Cost: XOF 25",
                    "Recipients": recipients,
                }
            }
            raw = json.dumps(body).encode()
            if state.http_status >= 400:
                raw = b"The supplied authentication is invalid"
            self.send_response(state.http_status)
            self.send_header("Content-Type", state.content_type)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            with contextlib.suppress(OSError):  # the client gave up (timeout case)
                self.wfile.write(raw)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
