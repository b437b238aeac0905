"""URLs in smoke: validated once where the user gives them, shown without credentials, compared by origin.

A URL may carry a password (``https://user:pass@staging.example.com``). It is registered as a credential
and never shown: :func:`display_url` drops the userinfo before a URL reaches a report, because httpx
re-encodes it and a re-encoded password is a spelling the masker would have to guess.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

import httpx

from lr_ci.redact import basic_auth_token

_USERINFO = re.compile(r"(?<=//)[^/?#@]*@")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def without_userinfo(text: str) -> str:
    """``text`` (any URL-like string, even an invalid one) with ``user:pass@`` replaced by ``***@``."""
    return _USERINFO.sub("***@", text)


def check_http_url(url: str, what: str = "") -> str:
    """``url`` if it is an absolute http(s) URL lr-ci can request, else ValueError saying why.

    Both parsers that see the URL (urllib's and httpx's) must accept it, so that a malformed IPv6 host
    (``http://[::1``), a port out of range or a control character is one clear error here instead of an
    exception in the middle of a run.
    """
    shown = without_userinfo(url)
    prefix = f"{what} " if what else ""
    if not url.lower().startswith(("http://", "https://")):
        raise ValueError(f"{prefix}{shown!r}: expected an http:// or https:// URL")
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise ValueError(f"{prefix}{shown!r}: a URL has no spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
        parsed = httpx.URL(url)
    except (ValueError, httpx.InvalidURL) as exc:
        raise ValueError(f"{prefix}{shown!r}: not a valid URL ({without_userinfo(str(exc))})") from None
    if not parts.hostname or not parsed.host:
        raise ValueError(f"{prefix}{shown!r}: the URL has no host")
    if port is not None and not 0 < port < 65536:
        raise ValueError(f"{prefix}{shown!r}: port {port} is out of range")
    return url


def display_url(url: httpx.URL | str) -> str:
    """The URL as reports show it: without its userinfo (the password in it is a credential)."""
    if isinstance(url, str):
        return without_userinfo(url)
    return str(url.copy_with(username=None, password=None)) if url.userinfo else str(url)


def userinfo_credentials(url: str) -> list[str]:
    """The secret spellings of ``url``'s userinfo: the password (or a user given alone, which is a token),
    raw and decoded, and the Basic token.

    httpx sends ``user:pass`` as ``Authorization: Basic base64(user:pass)``; a server that echoes the
    header would otherwise print a form of the password no masker recognises.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        match = _USERINFO.search(url)
        return [match.group(0)[:-1]] if match else []
    if not parts.password and not parts.username:
        return []
    token = basic_auth_token(unquote(parts.username or ""), unquote(parts.password or ""))
    found = [token, token.rstrip("="), token.replace("+", "-").replace("/", "_")]
    # A user without a password is a token (``https://TOKEN@host``, as GitHub and many APIs take it).
    alone = parts.password or parts.username or ""
    found += [unquote(alone), alone]
    return found


def origin(url: httpx.URL) -> tuple[str, str, int | None]:
    """(scheme, host, port) with default ports filled in: what "another host" means for credentials."""
    return url.scheme, url.host.lower(), url.port or _DEFAULT_PORTS.get(url.scheme)


def same_site(base: httpx.URL, other: httpx.URL) -> bool:
    """Whether ``other`` is ``base``'s origin, or its https upgrade (http://host -> https://host)."""
    if origin(base) == origin(other):
        return True
    upgrade = base.scheme == "http" and other.scheme == "https" and base.host.lower() == other.host.lower()
    return upgrade and (base.port in (None, 80)) and (other.port in (None, 443))
