"""One GitHub issue per incident: opened on the incident, a comment on each reminder, a comment and closed on
recovery. :func:`deliver` is what :func:`lr_ci.checks.uptime.notify.deliver` calls for a
:class:`~lr_ci.checks.uptime.notify.GithubIssuesTarget`.

Why it is shaped this way:

- **Found again, never opened twice.** Delivery is at least once (a crash between creating the issue and
  marking the outbox row sends again; an answer lost after GitHub wrote the issue is a failure, retried).
  So every event first looks for the incident's issue by the hidden marker in its body
  (``<!-- lr-ci-uptime incident=<id> -->``) and every comment carries the event's key marker
  (``<!-- lr-ci-uptime key=<key> -->``): a retried event finds its own earlier write and does nothing more.
  The lookup lists open *and* closed issues updated since the outage started (a recovered incident's
  issue is closed, and a late "opened" must not open a new one), without a label filter (GitHub drops the
  labels of a token without push access silently, and a filter would then miss the issue).
- **Any order.** The outbox sends due rows concurrently and retries each on its own backoff, so a
  reminder or the recovery can be sent before the "opened" row finally gets through. Whichever event
  comes first creates the issue (with its own text and key marker); the others then find it. Within one
  process, deliveries to one repository are serialised, so two events of one incident never both create.
  A reminder that finds the issue closed (the recovery went first, or a person closed it) adds nothing.
- **Through the one GitHub module** (:mod:`lr_ci.github.api`, the one HTTP wrapper), bounded as a whole
  by the target's timeout (:func:`lr_ci._http.deadline`). A refused token, a missing repository, a 5xx or
  an unreachable API is ``Sent(False, reason)``, retried by the outbox; the reason names the repository
  and the status in words and never the token.
- **A test is not an incident.** ``lr-ci uptime test-alert`` (kind ``test``) opens no issue: it checks the
  token can read the repository, which is what a first setup gets wrong.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from lr_ci.checks.uptime.notify import GithubIssuesTarget, Mask, Sent, masked_reason, summary
from lr_ci.checks.uptime.state import Delivery

if TYPE_CHECKING:
    from lr_ci.github.api import GitHub, GitHubError

LOOKUP_MARGIN_S = 86_400.0
"""The lookup asks for issues updated since the outage started less this (clocks of the monitor and of
GitHub may differ; an issue is created after its outage started, so it is never older)."""

_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def incident_marker(incident: str) -> str:
    """The hidden HTML comment in an incident's issue body that finds the issue again."""
    return f"<!-- lr-ci-uptime incident={incident} -->"


def key_marker(key: str) -> str:
    """The hidden HTML comment in an event's issue body or comment: that event is already there."""
    return f"<!-- lr-ci-uptime key={key} -->"


def _lock(repository: str) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(repository.lower(), threading.Lock())


class _Unusable(Exception):
    """The repository cannot take issues though GitHub answered 200 (issues disabled): a failed delivery."""


def deliver(delivery: Delivery, target: GithubIssuesTarget, mask: Mask) -> Sent:
    """Apply ``delivery`` (opened, reminder, recovered, test) to ``target``'s repository; never raises for
    GitHub's answers (a bug in lr-ci is caught by ``notify.deliver``)."""
    from lr_ci import _http
    from lr_ci.github.api import GitHub, GitHubError, api_url_from_environment

    api = target.api_url.rstrip("/") if target.api_url else api_url_from_environment()
    github = GitHub(api, target.repository, target.token, timeout_s=target.timeout_s)
    prefix = f"{target.name}: "
    lock = _lock(target.repository)
    if not lock.acquire(timeout=target.timeout_s):  # bounded: the round is never held longer than this
        return Sent(False, f"{prefix}another delivery to this repository is still running; retried")
    try:
        with _http.deadline(time.monotonic() + target.timeout_s):
            if delivery.kind == "test":
                _check_access(github)
            else:
                _apply(github, delivery, target, mask)
    except GitHubError as exc:
        return Sent(False, masked_reason(_why(exc, target), target.token, mask, prefix=prefix))
    except _Unusable as exc:
        return Sent(False, masked_reason(str(exc), target.token, mask, prefix=prefix))
    finally:
        lock.release()
    return Sent(True)


def _check_access(github: GitHub) -> None:
    info = github.repository_info()
    if info.get("has_issues") is False:
        raise _Unusable("issues are disabled in this repository (Settings > General > Features > Issues)")


def _apply(github: GitHub, delivery: Delivery, target: GithubIssuesTarget, mask: Mask) -> None:
    body = delivery.body
    since = body.get("since")
    after = None
    if isinstance(since, (int, float)):
        after = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(max(0.0, since - LOOKUP_MARGIN_S)))
    found = github.find_issue(incident_marker(delivery.incident), since=after)
    if found is None:
        found = _create(github, delivery, target, mask)
        if delivery.kind != "recovered":
            return  # the issue's body is this event (its key marker is in it)
    number = int(found["number"])
    if delivery.kind == "opened":
        return  # found: this incident's issue exists already (a retry, or a later event came first)
    if delivery.kind == "reminder" and found.get("state") == "closed":
        return  # closed by the recovery (sent first) or by a person: a reminder there is only noise
    marker = key_marker(delivery.key)
    if marker not in str(found.get("body") or "") and not github.has_comment(number, marker):
        github.comment(number, comment_body(delivery, mask))
    if delivery.kind == "recovered" and found.get("state") != "closed":
        github.close_issue(number)


def _create(github: GitHub, delivery: Delivery, target: GithubIssuesTarget, mask: Mask) -> dict[str, Any]:
    """Create the incident's issue with the target's labels; when GitHub refuses the labels (a label that
    does not exist yet and a token that may not create labels: 403 or 422), create it without them: the
    alert matters more than its label."""
    from lr_ci.github.api import GitHubError

    title, text = mask(f"{delivery.body.get('monitor', '?')} is down"), issue_body(delivery, mask)
    labels = tuple(mask(label) for label in target.labels)
    try:
        return github.create_issue(title, text, labels)
    except GitHubError as exc:
        if not labels or exc.status not in (403, 422):
            raise
    return github.create_issue(title, text)


def issue_body(delivery: Delivery, mask: Mask) -> str:
    """The issue's body in Markdown: what happened and what failed, since when, the owner, the
    idempotency key, then the hidden markers."""
    body = delivery.body
    _, sentence = summary(delivery)
    lines = [f"**{_inline(sentence)}**", ""]
    lines += [f"- **Since:** {_when(body.get('since'))}"]
    failure = body.get("failure")
    if isinstance(failure, Mapping):
        parts = [
            f"status {failure['status']}" if failure.get("status") is not None else None,
            str(failure["error_class"]) if failure.get("error_class") else None,
            str(failure["error"]) if failure.get("error") else None,
            f"{failure['latency_ms']:.0f} ms"
            if isinstance(failure.get("latency_ms"), (int, float))
            else None,
        ]
        what = ", ".join(part for part in parts if part)
        if what:
            lines.append(f"- **What failed:** `{_code(what)}`")
    if body.get("owner"):
        lines.append(f"- **Owner:** {_inline(str(body['owner']))}")
    lines.append(f"- **Idempotency key:** `{_code(delivery.key)}`")
    lines += [
        "",
        "Opened by `lr-ci uptime`; it comments on reminders and closes this issue when the monitor recovers.",
        "",
        incident_marker(delivery.incident),
        key_marker(delivery.key),
    ]
    return mask("\n".join(lines))


def comment_body(delivery: Delivery, mask: Mask) -> str:
    """A reminder's or a recovery's comment: the event in words, its key, its hidden key marker."""
    _, sentence = summary(delivery)
    label = {"reminder": "Still down", "recovered": "Recovered"}.get(delivery.kind, delivery.kind.title())
    text = f"**{label}:** {_inline(sentence)}\n\n{key_marker(delivery.key)}"
    return mask(text)


def _inline(text: str) -> str:
    """Text from a probed server or a config kept from pinging people or breaking the Markdown."""
    return text.replace("@", "@\u200b").replace("<", "&lt;").replace(">", "&gt;").replace("\n", " ")


def _code(text: str) -> str:
    """Text inside a code span: no backtick to end it, no ``<``/``>`` to fake or end a hidden marker."""
    return (
        text.replace("`", "'")
        .replace("<", "\u2039")
        .replace(">", "\u203a")
        .replace("@", "@\u200b")
        .replace("\n", " ")
    )


def _when(value: object) -> str:
    if not isinstance(value, (int, float)):
        return "?"
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(value))


def _why(exc: GitHubError, target: GithubIssuesTarget) -> str:
    """GitHub's refusal in words a person acts on (the status, never the token)."""
    status = exc.status
    repository = target.repository
    if status == 401:
        return "GitHub refused the token (401 Bad credentials)"
    if status == 403:
        return (
            "the token may not do this (403: give the workflow `permissions: issues: write`; "
            "or a rate limit, retried)"
        )
    if status == 404:
        return f"{repository} not found, or the token cannot see it (404)"
    if status == 410:
        return f"issues are disabled in {repository} (410)"
    if status == 422:
        return "GitHub refused the request as invalid (422)"
    if status:
        return f"GitHub answered {status}; retried"
    return f"GitHub API: {exc}"  # unreachable, timed out, or an answer that is not what was asked
