"""A real HTTP server on loopback that serves form pages and records what is submitted to it.

The browser comparison (tests/test_smoke_browser.py) sends the same form twice, once from Chromium and once
from ``lr-ci smoke``, to this server; both requests are recorded as plain data (:class:`Recorded`) and
compared. The server knows nothing about forms: it only says what arrived, so neither side is judged by
code that shares the other's assumptions.

- A GET whose path, query included, is exactly one of the pages' paths is answered with that page and not
  recorded: loading a page is not a submission. Pages keep the path they had in the app that rendered
  them, so ``action=""`` posts back to that path, as it would there.
- Scripts and static files the pages load (Django admin's own, from the installed Django) are served and
  not recorded; other browser housekeeping (``/favicon.ico``, any other ``/static/...``) is answered 404
  and not recorded. Neither is ever a form's target in the corpus.
- Every other request is recorded: method, path, query, content type without its parameters (the
  multipart boundary differs from sender to sender), and the entry list in order. For a body in
  ``application/x-www-form-urlencoded`` the entries are ``parse_qsl(keep_blank_values=True)`` of it; for
  ``multipart/form-data`` each part is ``(name, value)`` or, for a part with a filename,
  ``(name, (filename, part content type, content))``; for a GET the query is the entry list. It is
  answered 200 with a small page.
"""

from __future__ import annotations

import contextlib
import mimetypes
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

IGNORED_PREFIXES = ("/favicon.ico", "/static/", "/admin/jsi18n/")
"""Requests a browser makes around a page (icons, scripts, styles): not submissions, never recorded."""
MAX_BODY_BYTES = 8 << 20
ANSWER_TITLE = "recorded"
ANSWER = f"<!doctype html><html><head><title>{ANSWER_TITLE}</title></head><body><p>recorded</p></body></html>".encode()

FileEntry = tuple[str, str, bytes]
"""A file part: (filename, its Content-Type, content)."""
Entry = tuple[str, "str | FileEntry"]


@dataclass(frozen=True)
class Recorded:
    """One request as it arrived."""

    method: str
    path: str
    query: str
    """The raw query string (for a GET form it is also parsed into ``entries``)."""
    content_type: str | None
    """The media type only, lower case: ``multipart/form-data``, not its boundary."""
    entries: list[Entry]
    body: bytes

    def comparable(self) -> dict[str, Any]:
        """What must be equal between the browser's request and lr-ci's: method, path, content type, the
        entries in order, and for a request with a body the action's query too (a browser keeps it there)."""
        return {
            "method": self.method,
            "path": self.path,
            "content_type": self.content_type,
            "entries": self.entries,
            "query": None if self.method == "GET" else parse_qsl(self.query, keep_blank_values=True),
        }


def parse_multipart(body: bytes, boundary: bytes) -> list[Entry]:
    """The parts of a ``multipart/form-data`` body, in order.

    Names and filenames are read as the bytes the sender wrote (UTF-8, with ``"``, CR and LF written
    ``%22``, ``%0D``, ``%0A`` by browsers) and decoded as UTF-8, not unescaped: both senders must write
    them the same way.
    """
    from python_multipart.multipart import parse_options_header

    delimiter = b"--" + boundary
    chunks = body.split(delimiter)
    if len(chunks) < 2 or not chunks[-1].startswith(b"--"):
        raise ValueError(f"multipart body does not end with the closing delimiter: {body[-200:]!r}")
    entries: list[Entry] = []
    for chunk in chunks[1:-1]:
        if not chunk.startswith(b"\r\n") or not chunk.endswith(b"\r\n"):
            raise ValueError(f"malformed multipart part: {chunk[:200]!r}")
        head, separator, content = chunk[2:-2].partition(b"\r\n\r\n")
        if not separator:
            raise ValueError(f"multipart part without a blank line after its headers: {chunk[:200]!r}")
        headers: dict[str, bytes] = {}
        for line in head.split(b"\r\n"):
            key, _, value = line.partition(b":")
            headers[key.strip().decode("latin-1").lower()] = value.strip()
        _, options = parse_options_header(headers.get("content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" in options:
            part_type = headers.get("content-type", b"").decode("latin-1")
            entries.append((name, (options[b"filename"].decode("utf-8", "replace"), part_type, content)))
        else:
            entries.append((name, content.decode("utf-8", "replace")))
    return entries


def parse_request(method: str, target: str, content_type_header: str | None, body: bytes) -> Recorded:
    split = urlsplit(target)
    content_type = None
    entries: list[Entry] = []
    if content_type_header is not None:
        from python_multipart.multipart import parse_options_header

        media_type, options = parse_options_header(content_type_header)
        content_type = media_type.decode("latin-1").lower()
        if content_type == "application/x-www-form-urlencoded":
            entries = list(parse_qsl(body.decode("ascii", "replace"), keep_blank_values=True))
        elif content_type == "multipart/form-data":
            entries = parse_multipart(body, options.get(b"boundary", b""))
    if method == "GET":
        entries = list(parse_qsl(split.query, keep_blank_values=True))
    return Recorded(method, split.path, split.query, content_type, entries, body)


class RecordingServer:
    """``with RecordingServer.running(pages) as server:`` serves ``pages`` (path -> HTML) on 127.0.0.1."""

    def __init__(
        self,
        pages: dict[str, str],
        scripts: dict[str, str] | None = None,
        static: dict[str, Path] | None = None,
    ) -> None:
        self.pages = pages
        self.scripts = scripts or {}
        self.static = static or {}
        self.records: list[Recorded] = []
        self.errors: list[str] = []
        self._changed = threading.Condition()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @classmethod
    @contextlib.contextmanager
    def running(
        cls,
        pages: dict[str, str],
        scripts: dict[str, str] | None = None,
        static: dict[str, Path] | None = None,
    ) -> Iterator[RecordingServer]:
        server = cls(pages, scripts, static)
        thread = threading.Thread(target=server._httpd.serve_forever, kwargs={"poll_interval": 0.05})
        thread.daemon = True
        thread.start()
        try:
            yield server
        finally:
            server._httpd.shutdown()
            server._httpd.server_close()
            thread.join(timeout=5)

    def page(self, target: str) -> str | None:
        """The page at ``target`` (path and query, compared percent-decoded: ``?next=/admin/`` and
        ``?next=%2Fadmin%2F`` load the same page), if it is one."""
        wanted = unquote(target)
        for path, html in self.pages.items():
            if unquote(path) == wanted:
                return html
        return None

    def asset(self, target: str) -> tuple[str, bytes] | None:
        """A script or static file the pages load (content type, bytes), if ``target`` names one."""
        path = urlsplit(target).path
        if path in self.scripts:
            return "text/javascript; charset=utf-8", self.scripts[path].encode("utf-8")
        for prefix, directory in self.static.items():
            if path.startswith(prefix):
                file = (directory / unquote(path[len(prefix) :])).resolve()
                if file.is_relative_to(directory.resolve()) and file.is_file():
                    kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
                    return kind, file.read_bytes()
        return None

    def clear(self) -> None:
        with self._changed:
            self.records.clear()
            self.errors.clear()

    def wait_for(self, count: int, timeout_s: float) -> list[Recorded]:
        """The records once there are ``count`` of them, or what there is after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while len(self.records) < count and not self.errors:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
            if self.errors:
                raise AssertionError(f"the recording server could not read a request: {self.errors}")
            return list(self.records)

    def _record(self, record: Recorded | None, error: str | None = None) -> None:
        with self._changed:
            if record is not None:
                self.records.append(record)
            if error is not None:
                self.errors.append(error)
            self._changed.notify_all()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the records are the log."""

            def _answer(
                self, status: int, body: bytes, content_type: str = "text/html; charset=utf-8"
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY_BYTES:
                    server._record(None, f"{self.command} {self.path}: body of {length} bytes")
                    self._answer(413, b"too large")
                    return
                body = self.rfile.read(length) if length else b""
                page = server.page(self.path) if self.command == "GET" else None
                if page is not None:
                    self._answer(200, page.encode("utf-8"))
                    return
                asset = server.asset(self.path) if self.command == "GET" else None
                if asset is not None:
                    self._answer(200, asset[1], asset[0])
                    return
                if self.command == "GET" and self.path.startswith(IGNORED_PREFIXES):
                    self._answer(404, b"not found")
                    return
                try:
                    record = parse_request(self.command, self.path, self.headers.get("Content-Type"), body)
                except ValueError as exc:
                    server._record(None, f"{self.command} {self.path}: {exc}")
                    self._answer(400, b"unreadable")
                    return
                server._record(record)
                self._answer(200, ANSWER)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        return Handler
