"""A small threaded HTTP server for provider fakes: records every request, answers what the
subclass's `handle()` returns (optionally after a delay, to provoke client timeouts).

    with CallbackSink() as sink:          # or start() / stop()
        requests.post(sink.url + "/x", data={"a": "1"})
        assert sink.received("POST", "/x")[0].form == {"a": "1"}
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from gateway.services.payments import CallbackRequest


@dataclass(frozen=True)
class Recorded:
    """One request as the fake received it."""

    method: str
    path: str  # without the query string
    query: dict[str, str]
    headers: dict[str, str]  # names lower-cased
    body: bytes
    at: float = field(default_factory=time.monotonic)

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))

    @property
    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))

    def as_callback(self) -> CallbackRequest:
        """What the gateway's callback handler would hand to `parse_callback`."""
        urlencoded = self.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        )
        return CallbackRequest(
            method=self.method,
            headers=dict(self.headers),
            args=dict(self.query),
            form=self.form if urlencoded else {},
            body=self.body,
        )


@dataclass
class Reply:
    status: int
    body: Any = None  # dict/list -> JSON, bytes -> raw, None -> empty
    delay: float = 0.0  # seconds to wait before answering (the request is already recorded)
    headers: dict[str, str] = field(default_factory=dict)


class FakeServer:
    """Base of the fakes: `url`, `requests` (every Recorded, in order), `received(...)`."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None

    def handle(self, request: Recorded) -> Reply:  # overridden by each fake
        return Reply(200, {})

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def received(self, method: str | None = None, path_prefix: str = "") -> list[Recorded]:
        with self.lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method) and r.path.startswith(path_prefix)
            ]

    def start(self) -> FakeServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                recorded = Recorded(
                    method=self.command,
                    path=parts.path,
                    query=dict(parse_qsl(parts.query, keep_blank_values=True)),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(size) if size else b"",
                )
                with fake.lock:
                    fake.requests.append(recorded)
                reply = fake.handle(recorded)
                time.sleep(reply.delay)
                self._answer(reply)

            def _answer(self, reply: Reply) -> None:
                if isinstance(reply.body, bytes):
                    raw, kind = reply.body, "text/plain"
                elif reply.body is None:
                    raw, kind = b"", "text/plain"
                else:
                    raw, kind = json.dumps(reply.body).encode(), "application/json"
                with contextlib.suppress(OSError):  # the client gave up (timeout tests)
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.headers.get("Content-Type", kind))
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class CallbackSink(FakeServer):
    """Stands for the gateway's callback endpoint: answers 200 and keeps what arrived, so tests
    can feed `sink.received()[i].as_callback()` to an adapter's `parse_callback`."""

    def __init__(self, status: int = 200) -> None:
        super().__init__()
        self.status = status

    def handle(self, request: Recorded) -> Reply:
        return Reply(self.status, b"OK")

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Recorded]:
        """The first `count` requests, waiting for the fakes' background callbacks."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.requests) >= count:
                    return list(self.requests[:count])
            time.sleep(0.02)
        raise AssertionError(f"expected {count} callbacks, got {len(self.requests)}")
