"""The one HTTP client wrapper: httpx with lr-ci's defaults, DNS overrides, and readable failures.

Every check that talks HTTP (smoke, uptime, edge, p95's probes) builds its client here, so timeouts, the
user agent, TLS verification, ``--resolve`` and the wording of transport errors are the same everywhere.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from lr_ci import __version__

USER_AGENT = f"lr-ci/{__version__}"


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


def client(options: ClientOptions, headers: dict[str, str] | None = None, **kwargs: Any) -> httpx.Client:
    transport: httpx.BaseTransport = httpx.HTTPTransport(verify=options.verify, retries=0)
    if options.resolve:
        transport = _ResolvingTransport(transport, options.resolve)
    return httpx.Client(
        transport=transport,
        timeout=httpx.Timeout(options.timeout_s),
        follow_redirects=options.follow_redirects,
        headers={"User-Agent": USER_AGENT, **(headers or {})},
        **kwargs,
    )


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


def ca_bundle(path: str) -> ssl.SSLContext:
    """A TLS context trusting the CA certificates in ``path`` (a PEM file), or exit 2 naming it."""
    from lr_ci.errors import LrCiError

    try:
        return ssl.create_default_context(cafile=path)
    except (OSError, ssl.SSLError) as exc:
        raise LrCiError(f"ca_bundle {path}: cannot load CA certificates: {exc}") from None


def parse_resolve(specs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``host:ip`` (or ``host:port:ip``, as curl writes it) -> {host: ip}."""
    from lr_ci.errors import LrCiError

    resolved = {}
    for spec in specs:
        parts = spec.split(":")
        if len(parts) == 2:
            host, ip = parts
        elif len(parts) == 3:
            host, _port, ip = parts
        else:
            raise LrCiError(f"--resolve {spec!r}: expected HOST:IP (or HOST:PORT:IP)")
        if not host or not ip:
            raise LrCiError(f"--resolve {spec!r}: expected HOST:IP (or HOST:PORT:IP)")
        resolved[host] = ip
    return resolved
