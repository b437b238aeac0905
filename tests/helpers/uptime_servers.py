"""Real servers on 127.0.0.1 for the uptime tests: an SMTP server (aiosmtpd) with STARTTLS and AUTH, a TLS
server whose certificate the test chooses, a webhook receiver that verifies lr-ci's HMAC signature and
drops duplicates by idempotency key, a mail receiver for apprise's ``mailto://``. Every wait is bounded.
The ``ca`` and ``ca_file`` fixtures (a trustme CA and its PEM file) are in conftest.py."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from lr_ci.checks.uptime.notify import EVENT_HEADER, KEY_HEADER, SIGNATURE_HEADER

SMTP_USER = "probe-user"
SMTP_PASSWORD = "smtp-pa55word-do-not-show"
SINK = "sink@example.com"
SECRET = "webhook-signing-secret-0123"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class MailSink:
    """An aiosmtpd handler that accepts mail for ``SINK`` only and keeps what it received."""

    messages: list[Envelope] = field(default_factory=list)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address != SINK:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.messages.append(envelope)
        return "250 queued"


def _authenticate(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == SMTP_USER.encode()
        and auth_data.password == SMTP_PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself


@contextlib.contextmanager
def smtp_server(
    ca: trustme.CA | None, *, implicit_tls: bool = False, **parameters: Any
) -> Iterator[tuple[int, MailSink]]:
    """aiosmtpd on 127.0.0.1: with ``ca``, STARTTLS with a certificate for 127.0.0.1, required, and AUTH
    (after TLS) with the test user; with ``implicit_tls`` too, TLS from the first byte instead (SMTPS:
    aiosmtpd's ``ssl_context``); without ``ca``, plain SMTP and no AUTH."""
    sink = MailSink()
    port = free_port()
    if ca is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        # aiosmtpd counts only STARTTLS as TLS for AUTH (``_tls_protocol``), not an implicit-TLS listener:
        # auth_require_tls=False offers AUTH on the line that is encrypted from the first byte (and AUTH
        # is then offered, not required: aiosmtpd warns about requiring AUTH without requiring TLS).
        tls: dict[str, Any] = (
            {"ssl_context": context, "auth_require_tls": False, "auth_required": False}
            if implicit_tls
            else {"tls_context": context, "require_starttls": True, "auth_required": True}
        )
        parameters = {**tls, "authenticator": _authenticate, **parameters}
    controller = Controller(sink, hostname="127.0.0.1", port=port, ready_timeout=5, **parameters)
    controller.start()
    try:
        yield port, sink
    finally:
        controller.stop()


@contextlib.contextmanager
def tls_server(certificate: trustme.LeafCert) -> Iterator[int]:
    """Accepts TLS connections with ``certificate``, completes the handshake and closes."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(context)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            with contextlib.suppress(OSError), connection:
                connection.settimeout(2)
                with context.wrap_socket(connection, server_side=True):
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


@dataclass
class Receiver:
    """What the webhook receiver saw: every request, the bodies it accepted (once per key), rejections."""

    secret: str
    status: int = 200
    requests: int = 0
    accepted: dict[str, dict[str, Any]] = field(default_factory=dict)
    duplicates: list[str] = field(default_factory=list)
    bad_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextlib.contextmanager
def webhook_receiver(secret: str = SECRET) -> Iterator[tuple[str, Receiver]]:
    """A real HTTP receiver as a team would write one: verify the signature over the raw body in constant
    time (401 otherwise), then drop a key it has seen (200, not processed twice)."""
    state = Receiver(secret)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            expected = "sha256=" + hmac.new(state.secret.encode(), raw, hashlib.sha256).hexdigest()
            with state.lock:
                state.requests += 1
                if state.status != 200:
                    self._answer(state.status)
                    return
                if not hmac.compare_digest(expected, self.headers.get(SIGNATURE_HEADER, "")):
                    state.bad_signatures += 1
                    self._answer(401)
                    return
                key = self.headers[KEY_HEADER]
                body = json.loads(raw)
                assert body["key"] == key and self.headers[EVENT_HEADER] == body["kind"]
                if key in state.accepted:
                    state.duplicates.append(key)
                else:
                    state.accepted[key] = body
            self._answer(200)

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with serve_handler(Handler) as url:
        yield f"{url}/hooks/lr-ci", state


@dataclass
class Inbox:
    messages: list[Envelope] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.messages.append(envelope)
        return "250 queued"


@contextlib.contextmanager
def mail_receiver() -> Iterator[tuple[int, Inbox]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, ready_timeout=5)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


@contextlib.contextmanager
def serve_handler(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """``handler`` served on 127.0.0.1 by threads until the block ends; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def credentials_config(app_url: str, smtp_port: int, hook: str, ca_file: str) -> str:
    """An ``lr-ci.toml`` whose monitors hold every kind of credential: the sample app's login flow (its
    password sent, and expected in a body so that the failure would quote it), SMTP probes with AUTH (one
    refused), the signed webhook's secret; the tests that prove none of them leaves share it. Needs
    ``OPS_USER``, ``OPS_PASSWORD``, ``SMTP_PASSWORD`` and ``HOOK_SECRET`` set."""
    return f"""
[smoke]
base_url = "{app_url}"
[[smoke.flows.login.steps]]
name = "form"
path = "/login"
capture = {{ csrf = {{ css = "input[name=csrf_token]", attr = "value" }} }}
[[smoke.flows.login.steps]]
name = "submit"
method = "POST"
path = "/login"
form = {{ csrf_token = "{{csrf}}", username = "${{OPS_USER}}", password = "${{OPS_PASSWORD}}" }}
expect = {{ status = 303, body_contains = ["${{OPS_PASSWORD}}"] }}

[uptime]
failures = 1
timeout = 5

[[uptime.monitors]]
name = "login works"
flow = "login"

[[uptime.monitors]]
name = "outgoing mail"
smtp = "127.0.0.1:{smtp_port}"
username = "{SMTP_USER}"
password = "${{SMTP_PASSWORD}}"
rcpt_to = "{SINK}"
send_data = true
ca_file = "{ca_file}"

[[uptime.monitors]]
name = "mail, wrong user"
smtp = "127.0.0.1:{smtp_port}"
username = "nobody"
password = "${{SMTP_PASSWORD}}"
ca_file = "{ca_file}"

[[uptime.notify]]
webhook = "{hook}"
secret = "${{HOOK_SECRET}}"
"""
