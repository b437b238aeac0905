"""The demo's webhook receiver: what a team's endpoint for lr-ci's signed alerts does, on loopback.

It checks the ``X-Lr-Ci-Signature`` HMAC over the raw body in constant time (401 otherwise, nothing
recorded) and drops a notification whose ``Idempotency-Key`` it has seen (200, recorded once): delivery is
at least once, so a receiver deduplicates. It ships in the wheel with the demo (the tests' receiver does
not), and signs with :func:`lr_ci.checks.uptime.notify.sign`, the sender's own function, so the two can
never disagree on the format.
"""

from __future__ import annotations

import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_BODY_BYTES = 1 << 20
"""A notification is a few hundred bytes; a larger body is refused before it is read."""


@dataclass(frozen=True)
class Notice:
    """One accepted notification: when it arrived (monotonic clock, and the wall clock a sender's ``since``
    is compared with), its key, kind and JSON body."""

    at: float
    key: str
    kind: str
    body: dict[str, Any]
    received_at: float = 0.0

    @property
    def monitor(self) -> str:
        return str(self.body.get("monitor", "?"))


@dataclass
class Inbox:
    """What the receiver saw. Every read and write holds ``changed``; waiters are woken on each change."""

    secret: str
    notices: list[Notice] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    bad_signatures: int = 0
    changed: threading.Condition = field(default_factory=threading.Condition)

    def accept(self, raw: bytes, signature: str, key: str, received_at: float | None = None) -> int:
        """The HTTP status for one request: 401 for a bad signature, 400 for a body that is not a keyed
        notification, else 200 (a duplicate key is acknowledged and not recorded again).

        ``received_at`` is the wall-clock instant the request arrived (now when not given): the alert
        latency benchmark notes it before anything else is done with the body."""
        from lr_ci.checks.uptime.notify import sign

        arrived, arrived_wall = time.monotonic(), time.time() if received_at is None else received_at
        with self.changed:
            if not hmac.compare_digest(sign(self.secret, raw), signature):
                self.bad_signatures += 1
                return 401
            try:
                body = json.loads(raw)
            except ValueError:
                return 400
            if not isinstance(body, dict) or not key or body.get("key") != key:
                return 400
            if any(notice.key == key for notice in self.notices):
                self.duplicates.append(key)
            else:
                self.notices.append(Notice(arrived, key, str(body.get("kind", "")), body, arrived_wall))
            self.changed.notify_all()
            return 200

    def wait_for(self, wanted: Callable[[list[Notice]], bool], timeout_s: float) -> bool:
        """Block until ``wanted(notices)`` holds (True) or ``timeout_s`` passed (False)."""
        with self.changed:
            return self.changed.wait_for(lambda: wanted(self.notices), timeout=timeout_s)

    def snapshot(self) -> list[Notice]:
        with self.changed:
            return list(self.notices)


@contextmanager
def webhook_receiver(secret: str) -> Iterator[tuple[str, Inbox]]:
    """Serve a receiver on 127.0.0.1 (a free port) until the block ends; yields its URL and its inbox."""
    from lr_ci.checks.uptime.notify import KEY_HEADER, SIGNATURE_HEADER

    inbox = Inbox(secret)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            try:
                length = int(self.headers.get("Content-Length", "0"))
            except ValueError:
                length = -1
            if not 0 <= length <= MAX_BODY_BYTES:
                self._answer(413)
                return
            raw = self.rfile.read(length)
            arrived = time.time()
            signature, key = self.headers.get(SIGNATURE_HEADER, ""), self.headers.get(KEY_HEADER, "")
            self._answer(inbox.accept(raw, signature, key, arrived))

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the demo narrates what arrived."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/lr-ci-alerts", inbox
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
