"""Serve an ASGI app (or a raw socket behaviour) on a free loopback port in a background thread, for tests."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn


def _listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


@contextlib.contextmanager
def serve(app: Any, certificate: Any = None) -> Iterator[str]:
    """``with serve(app) as url:`` — the app answers at ``url`` until the block ends.

    ``certificate`` is a trustme ``CA``-issued certificate (``trustme.LeafCert``) to serve HTTPS with.
    """
    sock = _listening_socket()
    port = sock.getsockname()[1]
    kwargs: dict[str, Any] = {}
    if certificate is not None:
        import tempfile

        cert_path = f"{tempfile.mkdtemp()}/cert.pem"
        certificate.private_key_and_cert_chain_pem.write_to_path(cert_path)
        kwargs = {"ssl_certfile": cert_path}
    config = uvicorn.Config(app, log_level="error", lifespan="off", **kwargs)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    scheme = "https" if certificate is not None else "http"
    try:
        yield f"{scheme}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextlib.contextmanager
def hanging_server() -> Iterator[str]:
    """Accepts connections and reads requests but never answers (a hung backend)."""
    sock = _listening_socket()
    stop = threading.Event()
    held: list[socket.socket] = []

    def accept() -> None:
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = sock.accept()
                held.append(connection)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in held:
            connection.close()
        sock.close()


def unused_port_url() -> str:
    """A loopback URL where nothing listens (connection refused)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


async def request_body(receive: Any) -> bytes:
    """The whole body of an ASGI request (test apps read small bodies whole)."""
    body = b""
    while True:
        message = await receive()
        chunk: bytes = message.get("body", b"")
        body += chunk
        if not message.get("more_body"):
            return body
