"""The one HTTP client wrapper: httpx with lr-ci's defaults, DNS overrides, and readable failures.

Every check that talks HTTP (smoke, uptime, edge, p95's probes) builds its client here, so timeouts, the
user agent, TLS verification, ``--resolve`` and the wording of transport errors are the same everywhere.
"""

from __future__ import annotations

import contextlib
import math
import ssl
import threading
import time
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx

from lr_ci import __version__

USER_AGENT = f"lr-ci/{__version__}"
ACCEPT_ENCODING = "gzip, deflate"
"""Not Brotli: its decoder (1.0.9) cannot bound its output, so a few bytes could inflate without limit."""


@dataclass(frozen=True)
class ClientOptions:
    timeout_s: float = 10.0
    verify: bool | str | ssl.SSLContext = True
    """False, a CA bundle path, or an SSL context (tests pass trustme's)."""
    resolve: Mapping[str, str] = field(default_factory=dict)
    """host -> IP: reach a new deploy before DNS moves (like curl --resolve)."""
    follow_redirects: bool = False


class _ResolvingTransport(httpx.BaseTransport):
    """Sends requests for overridden hosts to the given IP, keeping Host and TLS SNI as the real name."""

    def __init__(self, inner: httpx.BaseTransport, resolve: Mapping[str, str]) -> None:
        self._inner = inner
        self._resolve = {host.lower(): ip for host, ip in resolve.items()}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host.lower()
        ip = self._resolve.get(host)
        if ip is not None:
            request.url = request.url.copy_with(host=ip)
            request.extensions = {**request.extensions, "sni_hostname": host}
            # Host already carries the real name: httpx set it from the URL before this point.
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


_deadlines = threading.local()


@contextlib.contextmanager
def deadline(at: float) -> Iterator[None]:
    """Every socket operation of this thread's requests inside the block ends by ``at`` (time.monotonic()).

    httpx's timeouts bound each connect, read or write on its own: a server that trickles one byte a
    second resets the read timeout forever. Inside this block every operation gets at most the time left,
    so a whole request (headers, body, redirects) cannot outlive ``at``: past it, the operation raises
    ``httpx.ReadTimeout`` (or the connect/write timeout) like any other timeout. Blocks nest; the earlier
    deadline wins.
    """
    outer: float = getattr(_deadlines, "at", math.inf)
    _deadlines.at = min(outer, at)
    try:
        yield
    finally:
        _deadlines.at = outer


def _time_left(timeout: float | None, error: type[Exception]) -> float | None:
    """``timeout`` clamped to this thread's :func:`deadline`; ``error`` when it has passed."""
    at: float = getattr(_deadlines, "at", math.inf)
    if at == math.inf:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise error("the request's deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every read and write ends by the thread's :func:`deadline`."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _time_left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _time_left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        left = _time_left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, left))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's socket backend with every stream bounded by the thread's :func:`deadline`."""

    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        left = _time_left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.connect_tcp(host, port, left, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        left = _time_left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.connect_unix_socket(path, left, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def _transport(verify: bool | str | ssl.SSLContext) -> httpx.HTTPTransport:
    transport = httpx.HTTPTransport(verify=verify, retries=0)
    # httpx takes no network backend of its own; its pool keeps the one it passes to every connection
    # (a private attribute of httpx 0.x, hence httpx<1 in pyproject.toml; the trickle tests catch a change).
    pool = transport._pool
    pool._network_backend = _DeadlineBackend(pool._network_backend)
    return transport


def client(options: ClientOptions, headers: dict[str, str] | None = None, **kwargs: Any) -> httpx.Client:
    transport: httpx.BaseTransport = _transport(options.verify)
    if options.resolve:
        transport = _ResolvingTransport(transport, options.resolve)
    return httpx.Client(
        transport=transport,
        timeout=httpx.Timeout(options.timeout_s),
        follow_redirects=options.follow_redirects,
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": ACCEPT_ENCODING, **(headers or {})},
        **kwargs,
    )


class _CappedDecoder:
    """Undoes a body's Content-Encoding without ever producing more than asked for.

    httpx decodes each chunk read whole: 64 KiB of gzip can inflate to 64 MiB, and a Brotli bomb to far
    more, before any cap is looked at. This decoder takes the cap as zlib's ``max_length`` instead.
    Only what lr-ci asks for (:data:`ACCEPT_ENCODING`) is decoded; another encoding is a DecodingError.
    """

    def __init__(self, content_encoding: str) -> None:
        encoding = content_encoding.strip().lower()
        self._deflate = encoding == "deflate"
        self._raw_deflate_tried = False
        self._produced = False
        if encoding in ("", "identity"):
            self._inflater: Any = None
        elif encoding in ("gzip", "x-gzip"):
            self._inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif encoding == "deflate":
            self._inflater = zlib.decompressobj()
        else:
            raise httpx.DecodingError(
                f"the body is encoded as {content_encoding!r}, which lr-ci does not ask for or read"
            )

    def decode(self, raw: bytes, limit: int) -> bytes:
        """At most ``limit`` decoded bytes of ``raw`` (what did not fit is dropped: the caller stops)."""
        if self._inflater is None:
            return raw[:limit]
        try:
            data = bytes(self._inflater.decompress(raw, limit))
        except zlib.error as exc:
            if self._deflate and not self._raw_deflate_tried and not self._produced:
                # "deflate" is often sent without its zlib header (httpx allows it too).
                self._raw_deflate_tried = True
                self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
                return self.decode(raw, limit)
            raise httpx.DecodingError(f"cannot decode the body: {exc}") from None
        self._produced = self._produced or bool(data)
        return data


def read_capped(response: httpx.Response, max_bytes: int) -> bool:
    """Read at most ``max_bytes`` of a streamed response's decoded body, then close it.

    An endless or huge body (or a small compressed one that inflates without end) would otherwise be held
    in memory whole. What was read becomes the response's ``content`` (``text`` and ``json()`` work as
    usual); the return value says whether the body went on past the cap and was cut, so a check can say
    that an expectation saw only part of it.
    """
    chunks: list[bytes] = []
    size = 0
    cut = False
    try:
        decoder = _CappedDecoder(response.headers.get("content-encoding", ""))
        for raw in response.iter_raw():
            room = max_bytes - size
            data = decoder.decode(raw, room + 1)
            if len(data) > room:
                chunks.append(data[:room])
                cut = True
                break
            chunks.append(data)
            size += len(data)
    finally:
        response.close()
    response._content = b"".join(chunks)
    if not _text_encoding(response.charset_encoding):
        response.encoding = "utf-8"
    return cut


def _text_encoding(charset: str | None) -> bool:
    """Whether a response's ``charset`` names a codec that turns bytes into text.

    Python's codec registry also holds ``rot13``, ``hex`` and ``zlib``: a server naming one made reading
    the text a TypeError (a healthy page failed with a message about ``str.translate``). Such a charset,
    like an unknown one, is read as UTF-8 (with replacement characters).
    """
    import codecs

    if charset is None:
        return True
    try:
        return bool(codecs.lookup(charset)._is_text_encoding)
    except LookupError:
        return False


def describe_error(exc: httpx.HTTPError, timeout_s: float | None = None) -> str:
    """A transport failure in words a person acts on (no stack, no secrets)."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out after {timeout_s:g} s" if timeout_s else "timed out"
    if isinstance(exc, httpx.ConnectError):
        lowered = text.lower()
        if "certificate" in lowered or "ssl" in lowered or "tls" in lowered:
            return f"TLS failed: {text}"
        if "refused" in lowered:
            return "connection refused"
        if "name or service not known" in lowered or "nodename" in lowered or "getaddrinfo" in lowered:
            return f"cannot resolve the host ({text})"
        return f"cannot connect: {text}"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"the server broke the protocol: {text}"
    return f"{type(exc).__name__}: {text}"


MAX_CA_BUNDLE_BYTES = 16 * 1024 * 1024
"""A PEM file of CA certificates: the whole public Mozilla bundle is about 200 KiB."""


def ca_bundle(path: str) -> ssl.SSLContext:
    """A TLS context trusting the CA certificates in ``path`` (a PEM file), or exit 2 naming it.

    Read by lr-ci, not OpenSSL: a regular file of at most :data:`MAX_CA_BUNDLE_BYTES`, opened without
    blocking. OpenSSL would read ``/dev/zero`` until memory ran out and wait on a FIFO for ever.
    """
    import os
    import stat

    from lr_ci.errors import LrCiError

    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with open(descriptor, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise LrCiError(f"ca_bundle {path}: not a regular file (a PEM file of CA certificates)")
            pem = handle.read(MAX_CA_BUNDLE_BYTES + 1)
    except OSError as exc:
        raise LrCiError(f"ca_bundle {path}: cannot load CA certificates: {exc.strerror or exc}") from None
    if len(pem) > MAX_CA_BUNDLE_BYTES:
        raise LrCiError(f"ca_bundle {path}: larger than {MAX_CA_BUNDLE_BYTES >> 20} MiB, not a CA bundle")
    try:
        return ssl.create_default_context(cadata=pem.decode("ascii"))
    except (UnicodeDecodeError, ValueError, ssl.SSLError) as exc:
        why = "not ASCII PEM text" if isinstance(exc, UnicodeDecodeError) else str(exc)
        raise LrCiError(f"ca_bundle {path}: cannot load CA certificates: {why}") from None


def parse_resolve(specs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``host:ip`` (or ``host:port:ip``, as curl writes it; an IPv6 address in brackets) -> {host: ip}.

    The address must be an IP address: anything else would fail (or go elsewhere) only mid-run.
    """
    import ipaddress

    from lr_ci.errors import LrCiError

    resolved = {}
    for spec in specs:
        host, _, rest = spec.partition(":")
        port, sep, after = rest.partition(":")
        if sep and port.isdigit() and not rest.startswith("["):
            rest = after
        ip = rest[1:-1] if rest.startswith("[") and rest.endswith("]") else rest
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            ip = ""
        if not host or not ip or any(ch in host for ch in "/[]@ ") or not host.isprintable():
            raise LrCiError(
                f"--resolve {spec!r}: expected HOST:IP (or HOST:PORT:IP), IP an IPv4 or IPv6 address"
            )
        resolved[host] = ip
    return resolved
