"""Sending one outbox row (:class:`~lr_ci.checks.uptime.state.Delivery`) to its target.

Why it is shaped this way:

- **Never raise, never lose.** :func:`deliver` returns :class:`Sent` (delivered, or failed with a reason);
  the round driver marks the outbox row delivered or failed, and the store retries a failed row with
  backoff across rounds and restarts. A target that is down, a malformed URL, a bug in a plugin: each is a
  reason in the report, never a crash of the monitor that would silence every other alert.
- **apprise for everything but two.** Slack, Teams, Discord, email, ntfy, PagerDuty, Opsgenie, ... are one
  URL each through apprise (imported lazily: only a monitor that sends pays for it). The senders written
  here are lr-ci's generic webhook, signed with HMAC-SHA256 because apprise does not sign, and GitHub
  issues (``github_issues.py``), because an issue per incident is a conversation (found again, commented,
  closed), not a message.
- **The idempotency key everywhere.** Delivery is at least once (a crash between sending and marking
  sends again), so every notification carries ``key`` (incident, event, sequence) in its body and, for the
  webhook, in the ``Idempotency-Key`` header: a receiver drops a duplicate.
- **Credentials masked in every reason.** apprise URLs carry tokens (a Slack webhook's path, a mail
  password, a bot token in the host part), so every reason has each part of the target's URL replaced
  before ``mask`` (the run's redactor) sees it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from lr_ci.checks.uptime.state import Delivery

DEFAULT_TIMEOUT_S = 10.0
MAX_REASON_CHARS = 300
SIGNATURE_HEADER = "X-Lr-Ci-Signature"
"""``sha256=<hex>``: HMAC-SHA256 of the raw request body with the webhook's secret."""
KEY_HEADER = "Idempotency-Key"
EVENT_HEADER = "X-Lr-Ci-Event"
USER_AGENT_NAME = "lr-ci uptime"

Mask = Callable[[str], str]


def _keep(text: str) -> str:
    return text


@dataclass(frozen=True)
class AppriseTarget:
    """Any apprise URL (``slack://...``, ``mailto://...``, ``ntfy://...``)."""

    url: str
    timeout_s: float = DEFAULT_TIMEOUT_S


@dataclass(frozen=True)
class WebhookTarget:
    """lr-ci's own webhook: a JSON POST signed with ``secret`` (HMAC-SHA256)."""

    url: str
    secret: str
    timeout_s: float = DEFAULT_TIMEOUT_S
    verify: Any = True
    """False, a CA bundle path or an SSL context, as for :class:`lr_ci._http.ClientOptions`."""


@dataclass(frozen=True)
class GithubIssuesTarget:
    """One GitHub issue per incident in ``repository`` (``owner/name``): opened on the incident, commented
    on reminders, commented and closed on recovery (``github_issues.py`` says how it stays one issue)."""

    repository: str
    token: str = field(repr=False)
    labels: tuple[str, ...] = ()
    api_url: str | None = None
    """The REST API's base URL; None: ``GITHUB_API_URL`` (set by Actions, GitHub Enterprise Server's own),
    else https://api.github.com, read when a delivery is sent."""
    timeout_s: float = 30.0
    """The whole delivery (a lookup of a few pages, a create or comment, a close) ends within this."""

    @property
    def name(self) -> str:
        """The target id the outbox stores: no credential in it."""
        return f"github:{self.repository}"


Target = AppriseTarget | WebhookTarget | GithubIssuesTarget


@dataclass(frozen=True)
class Sent:
    """The result of one attempt: ``delivered``, or not with a masked ``reason``."""

    delivered: bool
    reason: str | None = None


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for ``body``: what a receiver recomputes and compares in constant time."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def url_secrets(url: str) -> list[str]:
    """Every part of ``url`` that may be a credential, longest first: the URL itself, the host part (a bot
    token for some apprise schemes), user, password, each path segment and query value."""
    parts = {url}
    try:
        split = urlsplit(url)
    except ValueError:
        return [url]
    netloc = split.netloc
    userinfo, _, hostport = netloc.rpartition("@")
    for piece in (netloc, hostport, split.path, split.query, split.fragment):
        parts.add(piece)
    parts.update(hostport.split(":"))  # some schemes hold a token where a port would be
    if userinfo:
        user, _, password = userinfo.partition(":")
        parts.update({userinfo, user, password, unquote(user), unquote(password)})
    for segment in split.path.split("/"):
        parts.update({segment, unquote(segment)})
    for name, value in parse_qsl(split.query, keep_blank_values=True):
        if name.lower() not in ("to", "from", "mode", "format", "secure"):
            parts.add(value)
    return sorted((p for p in parts if len(p) >= 3), key=len, reverse=True)


def public(url: str) -> str:
    """How a target is named in a reason: its scheme only (``slack://***``)."""
    scheme = url.partition("://")[0] if "://" in url else ""
    return f"{scheme}://***" if scheme.isalnum() and len(scheme) <= 20 else "***"


_KNOWN_URLS: set[str] = set()
"""Every target URL this process has sent to: apprise logs from its own worker threads, so a reason built
from its log may hold another target's message; every known URL's parts are masked in every reason."""
_KNOWN_LOCK = threading.Lock()


def masked_reason(reason: str, url: str, mask: Mask = _keep, *, prefix: str = "") -> str:
    """``prefix`` (the target's :func:`public` name, already safe) then ``reason`` with every part of
    ``url`` and of every other known target URL, and every known credential masked, on one short line."""
    with _KNOWN_LOCK:
        urls = [url, *(known for known in _KNOWN_URLS if known != url)]
    for one in urls:
        for secret in url_secrets(one):
            reason = reason.replace(secret, "***")
    reason = prefix + " ".join(mask(reason).split())
    return reason if len(reason) <= MAX_REASON_CHARS else reason[: MAX_REASON_CHARS - 1] + "…"


def deliver(delivery: Delivery, target: Target, mask: Mask = _keep) -> Sent:
    """Send ``delivery`` to ``target``, bounded by the target's timeout; never raises."""
    try:
        if isinstance(target, GithubIssuesTarget):
            from lr_ci.checks.uptime import github_issues

            return github_issues.deliver(delivery, target, mask)
        if isinstance(target, WebhookTarget):
            return _webhook(delivery, target, mask)
        return _apprise(delivery, target, mask)
    except Exception as exc:  # a sender's bug is a failed delivery, retried, not a crash
        why = f"{type(exc).__name__}: {exc}"
        if isinstance(target, GithubIssuesTarget):
            return Sent(False, masked_reason(why, target.token, mask, prefix=f"{target.name}: "))
        return Sent(False, masked_reason(why, target.url, mask, prefix=f"{public(target.url)}: "))


def payload(delivery: Delivery) -> dict[str, Any]:
    """The webhook's JSON body: the outbox body (monitor, kind, since, what failed, owner) plus the key
    and a one-line ``text`` a chat tool can show as is."""
    return {**delivery.body, "key": delivery.key, "kind": delivery.kind, "text": summary(delivery)[1]}


def summary(delivery: Delivery) -> tuple[str, str]:
    """(title, body) of a notification in words: the monitor, what happened, what failed, since when,
    the owner, the idempotency key."""
    body = delivery.body
    monitor = str(body.get("monitor", "?"))
    since = _when(body.get("since"))
    kind = delivery.kind
    if kind == "opened":
        title = f"DOWN: {monitor}"
        line = f"{monitor} is down since {since}"
    elif kind == "reminder":
        title = f"STILL DOWN: {monitor}"
        line = f"{monitor} is still down since {since}"
    elif kind == "recovered":
        duration = body.get("duration")
        took = f" after {_duration(duration)}" if isinstance(duration, (int, float)) else ""
        title = f"RECOVERED: {monitor}"
        line = f"{monitor} is back up{took} (down since {since})"
        if body.get("removed") is True:  # Store.close_removed: nothing will probe it again
            lasted = f" for {_duration(duration)}" if isinstance(duration, (int, float)) else ""
            line = (
                f"{monitor} was removed from the configuration: incident closed (down{lasted} since {since})"
            )
    else:
        title = f"{kind.upper()}: {monitor}"
        line = str(body.get("message", f"{kind} for {monitor}"))
    failure = body.get("failure")
    if isinstance(failure, Mapping) and kind != "recovered":
        what = ", ".join(
            str(part)
            for part in (
                f"status {failure['status']}" if failure.get("status") is not None else None,
                failure.get("error"),
                f"{failure['latency_ms']:.0f} ms"
                if isinstance(failure.get("latency_ms"), (int, float))
                else None,
            )
            if part
        )
        if what:
            line += f": {what}"
    owner = body.get("owner")
    if owner:
        line += f". Owner: {owner}"
    return f"[lr-ci uptime] {title}", f"{line}. (key {delivery.key})"


def _when(value: object) -> str:
    if not isinstance(value, (int, float)):
        return "?"
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(value))


def _duration(seconds: float) -> str:
    seconds = max(0.0, float(seconds))
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _webhook(delivery: Delivery, target: WebhookTarget, mask: Mask) -> Sent:
    import httpx

    from lr_ci import _http

    body = json.dumps(payload(delivery), sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(target.secret, body),
        KEY_HEADER: delivery.key,
        EVENT_HEADER: delivery.kind,
    }
    options = _http.ClientOptions(timeout_s=target.timeout_s, verify=target.verify)
    try:
        with _http.deadline(time.monotonic() + target.timeout_s), _http.client(options) as client:
            response = client.post(target.url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        why = _http.describe_error(exc, target.timeout_s)
        return Sent(False, masked_reason(why, target.url, mask, prefix=f"webhook {public(target.url)}: "))
    if 200 <= response.status_code < 300:
        return Sent(True)
    return Sent(
        False,
        masked_reason(
            f"HTTP {response.status_code}", target.url, mask, prefix=f"webhook {public(target.url)}: "
        ),
    )


INVALID_APPRISE_URL = "not a valid apprise URL (unknown scheme, or a needed part missing or malformed)"


APPRISE_MISSING = "apprise URLs need apprise, which is not installed: pip install 'lr-ci[uptime]'"


def _import_apprise() -> Any:
    """The apprise module, or None when the ``uptime`` extra is not installed (a webhook or GitHub issues
    target needs nothing more, so its absence is a problem only for an apprise URL)."""
    try:
        import apprise
    except ImportError:
        return None
    return apprise


def apprise_url_problem(url: str) -> str | None:
    """Why apprise cannot use ``url`` (masked: it names the scheme only), or None: the config layer
    refuses such a target at start-up (exit 2 at its key) instead of failing every alert later."""
    apprise = _import_apprise()
    if apprise is None:
        return f"{public(url)}: {APPRISE_MISSING}"
    if apprise.Apprise().add(url):
        return None
    return f"{public(url)}: {INVALID_APPRISE_URL}"


def _apprise(delivery: Delivery, target: AppriseTarget, mask: Mask) -> Sent:
    """One apprise URL, in a thread bounded by the target's timeout (a plugin's own socket timeouts are
    its business; the monitor's round is not held longer than this whatever a plugin does)."""
    name = public(target.url)
    apprise = _import_apprise()
    if apprise is None:
        return Sent(False, f"{name}: {APPRISE_MISSING}")
    with _KNOWN_LOCK:
        _KNOWN_URLS.add(target.url)
    notifier = apprise.Apprise()
    if not notifier.add(target.url):
        return Sent(
            False,
            masked_reason(
                INVALID_APPRISE_URL,
                target.url,
                mask,
                prefix=f"{name}: ",
            ),
        )
    title, text = summary(delivery)
    outcome: dict[str, Any] = {}

    def send() -> None:
        # apprise says why it failed only in its log, written from its own worker threads (so records of
        # concurrent sends mix: masked_reason masks every known target's URL, not only this one).
        handler = _Log()
        logger = logging.getLogger("apprise")
        logger.addHandler(handler)
        restore = logger.level
        if logger.getEffectiveLevel() > logging.WARNING:
            logger.setLevel(logging.WARNING)
        try:
            outcome["ok"] = bool(notifier.notify(body=text, title=title))
        except Exception as exc:  # reported as the reason, in the caller's thread
            outcome["error"] = f"{type(exc).__name__}: {exc}"
        finally:
            logger.removeHandler(handler)
            logger.setLevel(restore)
            outcome["log"] = " ".join(handler.lines[-5:])

    thread = threading.Thread(target=send, name="lr-ci-apprise", daemon=True)
    thread.start()
    thread.join(target.timeout_s)
    if thread.is_alive():
        return Sent(
            False,
            masked_reason(f"timed out after {target.timeout_s:g} s", target.url, mask, prefix=f"{name}: "),
        )
    if "error" in outcome:
        return Sent(False, masked_reason(str(outcome["error"]), target.url, mask, prefix=f"{name}: "))
    if outcome.get("ok"):
        return Sent(True)
    log = " ".join(str(outcome.get("log", "")).split()) or "apprise reported a failure"
    return Sent(False, masked_reason(f"not delivered: {log}", target.url, mask, prefix=f"{name}: "))


class _Log(logging.Handler):
    """Keeps the messages apprise logs at WARNING or above (at most a few dozen)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.lines) < 50:
            self.lines.append(record.getMessage())
