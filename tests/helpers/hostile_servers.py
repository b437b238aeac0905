"""Hostile HTTP servers on loopback, for the smoke hardening tests (tests/test_hostile_smoke.py).

Raw sockets rather than an ASGI app where the point is misbehaviour an ASGI server would smooth over: a
body that never ends, an answer trickled a byte at a time. Every server runs in daemon threads, writes
only until the client goes away, and stops when its ``with`` block ends.
"""

from __future__ import annotations

import base64
import contextlib
import html
import json
import re
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote, quote_plus

from helpers.asgi_server import request_body

Handler = Callable[[socket.socket, bytes], None]
"""Answers one connection, given the request head already read."""


def _read_head(connection: socket.socket) -> bytes:
    connection.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 65536:
        chunk = connection.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


@contextlib.contextmanager
def raw_server(handler: Handler) -> Iterator[str]:
    """``with raw_server(handler) as url:`` — every connection is answered by ``handler`` in its own thread."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.settimeout(0.1)
    stop = threading.Event()

    def serve_one(connection: socket.socket) -> None:
        # OSError: the client closed the connection, which is what lr-ci is expected to do.
        with connection, contextlib.suppress(OSError):
            handler(connection, _read_head(connection))

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = sock.accept()
            except OSError:
                continue
            threading.Thread(target=serve_one, args=(connection,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        sock.close()


def endless_body(connection: socket.socket, _head: bytes) -> None:
    """200 with a body that never ends (no length, no chunked end): 64 KiB after 64 KiB for 60 s at most."""
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n")
    chunk = b"endless " * 8192
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        connection.sendall(chunk)


def gzip_bomb(connection: socket.socket, _head: bytes) -> None:
    """200, Content-Encoding: gzip, a body of zeros without end: each KiB sent inflates to about a MiB."""
    connection.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Encoding: gzip\r\nConnection: close\r\n\r\n"
    )
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    zeros = b"0" * (1 << 24)
    block = compressor.compress(zeros) + compressor.flush(zlib.Z_SYNC_FLUSH)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        connection.sendall(block)


def brotli_body(connection: socket.socket, _head: bytes) -> None:
    """200 with a Brotli body nobody asked for (lr-ci does not accept br: its decoder has no output bound)."""
    import brotli

    body = brotli.compress(b"hello " * 1000)
    connection.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


def trickled_body(connection: socket.socket, _head: bytes) -> None:
    """200 whose body comes one byte every 0.5 s, for 60 s at most: each read succeeds, the answer never ends."""
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n")
    for _ in range(120):
        connection.sendall(b".")
        time.sleep(0.5)


def trickled_headers(connection: socket.socket, _head: bytes) -> None:
    """The status line and headers themselves, one byte every 0.5 s (60 s at most)."""
    head = b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"s" * 200 + b"\r\n\r\n"
    for byte in head[:120]:
        connection.sendall(bytes([byte]))
        time.sleep(0.5)


def _header(scope: dict[str, Any], name: bytes) -> str:
    return next((v.decode("latin-1") for k, v in scope["headers"] if k.lower() == name), "")


async def _answer(
    send: Any, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers or []})
    await send({"type": "http.response.body", "body": body})


def password_forms(password: str) -> dict[str, str]:
    """The spellings of ``password`` a server or a report may produce: each must be masked."""
    return {
        "raw": password,
        "quote": quote(password, safe=""),
        "quote_plus": quote_plus(password),
        "quote_lower_hex": re.sub("%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(password, safe="")),
        "json": json.dumps(password)[1:-1],
        "json_ascii": json.dumps(password, ensure_ascii=True)[1:-1],
        "repr": repr(password)[1:-1],
        "repr_single": _repr_single(password),
        "html": html.escape(password),
        "html_hex": "".join(f"&#x{ord(c):x};" if not c.isalnum() else c for c in password),
    }


def _repr_single(password: str) -> str:
    """``repr`` forced to single quotes (as when the text also holds a double quote): ``it\\'s``."""
    return repr(password + '"')[1:-2]


def echo_app(password: str) -> Any:
    """Echoes ``password`` (and whatever Basic credentials came in) in every spelling, where smoke prints it.

    ``/echo``: a 400 whose body holds every form, the first one straddling the 300-character excerpt cut.
    ``/header``: the password in a response header (an expectation on it fails). ``/json``: in a JSON value
    (an expectation on it fails). ``/redirect``: in a Location's query (the redirect expectation fails).
    """

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        basic = _header(scope, b"authorization")
        echoed = [password, *password_forms(password).values()]
        if basic.startswith("Basic "):
            token = basic[len("Basic ") :]
            echoed += [token, *password_forms(base64.b64decode(token).decode().partition(":")[2]).values()]
        if path == "/echo":
            body = "x" * 290 + " " + "\n".join(echoed)
            await _answer(send, 400, body.encode())
        elif path == "/header":
            await _answer(send, 200, b"ok", [(b"x-echo", password.encode("latin-1"))])
        elif path == "/json":
            await _answer(send, 200, json.dumps({"user": {"password": password}}).encode())
        elif path == "/redirect":
            await _answer(send, 302, b"", [(b"location", f"/next?p={quote_plus(password)}".encode())])
        else:
            await _answer(send, 404, b"not found")

    return app


def recording_app(seen: list[dict[str, Any]], other: str = "") -> Any:
    """Records every request (path, headers, body) in ``seen``; redirects and forms point at ``other``.

    ``/go``: 302 to ``other``/landing. ``/same``: 302 to /landing here. ``/keep``: 307 to ``other``/landing
    (the body would be resent). ``/form``: a login form whose action is ``other``/steal.
    """

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await request_body(receive)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        seen.append({"path": scope["path"], "headers": headers, "body": body.decode("latin-1")})
        path = scope["path"]
        if path == "/go":
            await _answer(send, 302, b"", [(b"location", f"{other}/landing".encode())])
        elif path == "/same":
            await _answer(send, 302, b"", [(b"location", b"/landing")])
        elif path == "/keep":
            await _answer(send, 307, b"", [(b"location", f"{other}/landing".encode())])
        elif path == "/form":
            page = (
                f'<form method="post" action="{other}/steal"><input name="username">'
                '<input type="password" name="password"></form>'
            )
            await _answer(send, 200, page.encode(), [(b"content-type", b"text/html")])
        elif path == "/login":
            cookie = [(b"set-cookie", b"sid=s3ss10n-value; Path=/; HttpOnly"), (b"location", b"/landing")]
            await _answer(send, 303, b"", cookie)
        elif path == "/paren":
            await _answer(send, 200, b"(")
        elif path == "/euro":
            await _answer(send, 200, "\u20ac".encode())
        else:
            await _answer(send, 200, b"landed")

    return app


BIG_TOKEN = "T" * (4 * 1024 * 1024 - 20)
"""A token as long as a whole body may be (4 MiB): a capture of it is a credential to mask."""
_CAP = 4 * 1024 * 1024
HOSTILE_PAGES = {
    "/dicts": b"[" + b"{}," * (_CAP // 3 - 2) + b"{}]",
    "/tags": b"<b>" * (_CAP // 3),
    "/divs": b"<div>" * (_CAP // 5) + b"</p>" * 1000,
    "/attrs": b"<a " + b"x=1 " * (_CAP // 4 - 2) + b">",
    "/forms": b"<form><input type=password name=p>" * 30000,
}
"""Bodies of at most 4 MiB (max_body_bytes) that are many times their size once parsed, or slow to walk."""


def heavy_app() -> Any:
    """``/bigtoken``: JSON whose token is 4 MiB. ``/hopN``: a 302 to /hop(N+1) with a 4 MiB body.
    ``/aaa``: 30,000 ``a`` and a ``!`` (a backtracking regex never ends on it). :data:`HOSTILE_PAGES`."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == "/bigtoken":
            await _answer(send, 200, json.dumps({"token": BIG_TOKEN}).encode())
        elif path.startswith("/hop"):
            hop = int(path[len("/hop") :] or 0)
            await _answer(send, 302, b"x" * _CAP, [(b"location", f"/hop{hop + 1}".encode())])
        elif path == "/aaa":
            await _answer(send, 200, b"a" * 30000 + b"!")
        elif path in HOSTILE_PAGES:
            await _answer(send, 200, HOSTILE_PAGES[path], [(b"content-type", b"text/html")])
        else:
            await _answer(send, 200, b"ok")

    return app
