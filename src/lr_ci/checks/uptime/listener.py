"""The small HTTP server ``lr-ci uptime run --listen HOST:PORT`` starts: ``/metrics`` and the live page.

Why it is shaped this way:

- **The standard library's threaded server, in a daemon thread.** A scrape every few seconds and a person
  now and then need no framework; ``ThreadingHTTPServer`` answers each request in its own daemon thread,
  so a slow client never holds up a scrape, and nothing here ever blocks the monitor's loop. It is shut
  down with the monitor (SIGTERM or Ctrl-C), after the loop returns.
- **It only reads.** ``/metrics`` renders the run's own registry (:class:`~lr_ci.checks.uptime.metrics.
  UptimeMetrics`, written by the loop's thread); the page routes call a ``site`` function. The SQLite
  store belongs to the loop's thread and is never opened here.
- **Loopback unless said otherwise, and no authentication.** ``PORT`` or ``:PORT`` listens on 127.0.0.1.
  Any other address must be written as an IP address (``0.0.0.0:9310`` for every interface, or one
  interface's own address): a host name is refused, since it may resolve to a public interface nobody
  meant to open. The metrics and the page have no authentication: put them behind a proxy that has one
  before listening beyond loopback (docs/uptime.md says so).
- **Bounded.** Only GET and HEAD; a request line and headers are read with a timeout; the access log is
  off (a scraper every second would fill stderr, which carries the incident lines).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_HOST = "127.0.0.1"
REQUEST_TIMEOUT_S = 10.0
PAGE_PATHS = ("/", "/status.json")
PAGE_PREFIXES = ("/badges/",)
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True)
class Page:
    """One answer of the live page: status, content type, body."""

    status: int
    content_type: str
    body: bytes


Site = Callable[[str], "Page | None"]
"""The live page: a request path (``/``, ``/status.json``, ``/badges/NAME.svg``) to its answer, None for
404. Called from the listener's threads: it must only read what the loop's thread published."""


@dataclass(frozen=True)
class ListenAddress:
    host: str
    port: int

    @property
    def loopback(self) -> bool:
        if self.host == "localhost":
            return True
        return ipaddress.ip_address(self.host).is_loopback

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def parse_listen(text: str) -> ListenAddress:
    """``"127.0.0.1:9310"``, ``"9310"``, ``":9310"``, ``"[::1]:9310"``, ``"0.0.0.0:9310"`` -> the address.

    A ValueError says what is wrong: a missing or bad port, a host name other than ``localhost`` (write the
    IP address to listen on: listening beyond loopback is never an accident).
    """
    from lr_ci.checks.uptime.settings import split_host_port

    text = text.strip()
    if text.isdigit():
        text = f":{text}"
    host, port = split_host_port(text, 0)
    if port == 0:
        raise ValueError(f"{text[:80]!r}: write HOST:PORT or PORT (127.0.0.1:9310, 9310)")
    host = host or DEFAULT_HOST
    if host != "localhost":
        try:
            host = str(ipaddress.ip_address(host))
        except ValueError:
            raise ValueError(
                f"{text[:80]!r}: write the address to listen on as an IP address, not a host name"
                f" (127.0.0.1:{port}; 0.0.0.0:{port} listens on every interface, without authentication)"
            ) from None
    return ListenAddress(host, port)


class Listener:
    """``/metrics`` and the page routes on ``address``, served from daemon threads until :meth:`stop`.

    The socket is bound in the constructor, so an address in use is an error at start-up (``OSError``),
    before the monitor's loop starts.
    """

    def __init__(self, address: ListenAddress, metrics: Callable[[], bytes], site: Site | None = None):
        handler = _handler(metrics, site)
        family = socket.AF_INET6 if ":" in address.host else socket.AF_INET
        server_class = type("_Server", (ThreadingHTTPServer,), {"address_family": family})
        self._server: ThreadingHTTPServer = server_class((address.host, address.port), handler)
        self._server.daemon_threads = True
        port = int(self._server.server_address[1])
        self.address = ListenAddress(address.host, port)
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True, name="lr-ci-listen"
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting, wait for the serving loop (at most a poll interval), close the socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5.0)
        self._server.server_close()


def _handler(metrics: Callable[[], bytes], site: Site | None) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = REQUEST_TIMEOUT_S

        def version_string(self) -> str:
            return "lr-ci-uptime"

        def do_GET(self) -> None:
            self._answer(send_body=True)

        def do_HEAD(self) -> None:
            self._answer(send_body=False)

        def _answer(self, *, send_body: bool) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                page: Page | None = Page(200, METRICS_CONTENT_TYPE, metrics())
            elif site is not None and (path in PAGE_PATHS or path.startswith(PAGE_PREFIXES)):
                try:
                    page = site(path)
                except Exception:  # a bug in the page is a 500, never a dead listener
                    page = Page(500, "text/plain; charset=utf-8", b"internal error\n")
            else:
                page = None
            if page is None:
                page = Page(404, "text/plain; charset=utf-8", b"not found\n")
            self.send_response(page.status)
            self.send_header("Content-Type", page.content_type)
            self.send_header("Content-Length", str(len(page.body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            if send_body:
                self.wfile.write(page.body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler
