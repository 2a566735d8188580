"""A webhook receiver on 127.0.0.1 for notification tests: checks every delivery's
signature, answers 500 while told to fail, and keeps what it accepted, in arrival order."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    delivery: str
    body: dict[str, Any]
    status: int  # what the receiver answered


def verify(secret: str, header: str, raw: bytes) -> bool:
    """What a receiver does (docs/notifications.md)."""
    parts = dict(p.split("=", 1) for p in header.split(","))
    mac = hmac.new(secret.encode(), parts["t"].encode() + b"." + raw, hashlib.sha256)
    return hmac.compare_digest(mac.hexdigest(), parts["v1"])


class WebhookReceiver:
    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.failing = 0  # the next this many deliveries get a 500
        self.always_fail = False
        self.received: list[Received] = []
        self.bad_signatures = 0
        self._changed = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def accepted(self) -> list[dict[str, Any]]:
        with self._changed:
            return [r.body for r in self.received if r.status == 200]

    def wait_for(self, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        """The first ``count`` accepted bodies, once they arrived (AssertionError if not)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                done = [r.body for r in self.received if r.status == 200]
                if len(done) >= count:
                    return done
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(done)} of {count} deliveries arrived: {done}")
                self._changed.wait(left)

    def _record(self, delivery: str, body: dict[str, Any], raw_ok: bool) -> int:
        with self._changed:
            if not raw_ok:
                self.bad_signatures += 1
                status = 401
            elif self.always_fail or self.failing > 0:
                self.failing = max(0, self.failing - 1)
                status = 500
            else:
                status = 200
            self.received.append(Received(delivery, body, status))
            self._changed.notify_all()
            return status

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                signed = verify(
                    receiver.secret, self.headers.get("X-Codex-Runner-Signature", "t=0,v1=x"), raw
                )
                body = json.loads(raw)
                ok = signed and body["id"] == self.headers.get("X-Codex-Runner-Delivery")
                status = receiver._record(body["id"], body, ok)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def start(self) -> None:
        threading.Thread(
            target=lambda: self._server.serve_forever(poll_interval=0.05),
            name="webhook-receiver",
            daemon=True,
        ).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def webhook_receiver(secret: str) -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(secret)
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()
