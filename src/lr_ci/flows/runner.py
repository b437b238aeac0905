"""Running flows: requests in order, expectations checked, values captured, cleanup always run.

Shared by the checks that send flows (``smoke`` runs them, ``p95`` logs in with one, ``uptime`` monitors
will probe with them): :func:`run_flows` takes a :class:`FlowSet` (``[smoke]`` settings are one) and
:class:`RunOptions` with a base URL, and returns a structured :class:`FlowResult` per flow, with a
:class:`StepResult` per step.
"""

from __future__ import annotations

import json as jsonlib
import os
import re
import stat
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import httpx

from lr_ci import _http
from lr_ci.flows import _forms, _html, _jsonpath
from lr_ci.flows._regex_box import POOL, Found, RegexFailed, RegexTimeout
from lr_ci.flows.model import CONDITION, MAX_BODY_BYTES, Capture, CookieExpect, Expect, Flow, Step
from lr_ci.flows.urls import display_url, same_site, userinfo_credentials, without_userinfo

EXCERPT_CHARS = 300
_EXCERPT_MARGIN = 200
_WORD = re.compile(r"\S+")
MAX_USE_DEPTH = 32
"""How deeply flows may ``use`` each other (a login used by a setup used by a flow is 3)."""
MAX_REDIRECTS = 20
MAX_UPLOAD_BYTES = 64 * 1024 * 1024
"""A file a step uploads is read whole into the request: larger is a mistake (or /dev/zero)."""
# Headers that always carry a credential; on a redirect to another origin they are never sent on.
_CREDENTIAL_HEADERS = {"authorization", "proxy-authorization", "cookie"}
# Headers rebuilt for every request of a redirect chain (the body or the host changes).
_HOP_HEADERS = {"host", "content-length", "transfer-encoding", "cookie"}
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][\w-]*)\}")
_SECRET_NAME = re.compile(r"token|csrf|session|secret|password|passwd|key|auth|cookie", re.IGNORECASE)
# Values of JSON keys and form fields that name a secret, masked in body excerpts even when not captured.
_SECRET_VALUE = re.compile(
    r"""(?P<key>["']?[\w-]*(?:token|secret|password|passwd|api_?key|session|csrf)[\w-]*["']?\s*[:=]\s*["']?)"""
    r"""(?P<value>[^"'\s,&}<]{4,})""",
    re.IGNORECASE,
)
MAX_JSON_VALUES = 1_000_000
"""Values (and keys) of one JSON body lr-ci parses: about 70 MiB as Python objects at worst (a million
empty objects). A 4 MiB body of ``{},`` is 1.4 million: 200 MiB for four flows at once."""
PARSING = threading.Lock()
"""Held while a body is parsed (JSON, HTML) and used: one parsed document at a time in the process, so
concurrent flows cannot each hold one (a parsed body is many times its bytes)."""


class FlowSet(Protocol):
    """Flows by name and how to run them: ``[smoke]``'s settings are one."""

    @property
    def flows(self) -> Mapping[str, Flow]: ...
    @property
    def max_body_bytes(self) -> int: ...
    @property
    def concurrency(self) -> int:
        """Flows run at the same time by :func:`run_flows`."""
        ...


def json_body(response: httpx.Response) -> Any:
    """The body as JSON, at most :data:`MAX_JSON_VALUES` values; ValueError saying why not (hold PARSING)."""
    content = response.content
    tokens = sum(content.count(mark) for mark in (b",", b":", b"[", b"{"))
    if tokens >= MAX_JSON_VALUES:
        raise ValueError(f"body has more than {MAX_JSON_VALUES} JSON values; lr-ci reads at most that many")
    try:
        return response.json()
    except RecursionError:
        raise ValueError("body is JSON nested too deeply to read") from None
    except ValueError:
        raise ValueError("body is not JSON") from None


@dataclass
class StepResult:
    flow: str
    name: str
    status: str  # pass, fail, skip, error
    duration_s: float = 0.0
    message: str = ""
    method: str = ""
    url: str = ""
    response_status: int | None = None
    attempts: int = 0
    cleanup: bool = False
    config_error: bool = False
    """The step failed because of its configuration, not the server (see :class:`StepConfigError`)."""
    where: tuple[str | int, ...] = ()
    """The step in lr-ci.toml: ("smoke", "flows", flow, "steps" or "finally", index)."""

    @property
    def case_name(self) -> str:
        return f"{self.flow} › {self.name}"


@dataclass
class FlowResult:
    name: str
    steps: list[StepResult] = field(default_factory=list)
    duration_s: float = 0.0
    cookies: dict[str, str] = field(default_factory=dict)
    """The session's cookies at the end (p95 reuses a login flow's session)."""
    values: dict[str, str] = field(default_factory=dict)
    """Everything the flow captured."""

    @property
    def passed(self) -> bool:
        return not any(step.status in ("fail", "error") for step in self.steps)


def _unchanged(text: str) -> str:
    return text


@dataclass(frozen=True)
class RunOptions:
    base_url: str
    client: _http.ClientOptions = field(default_factory=_http.ClientOptions)
    deadline: float = float("inf")
    """time.monotonic() after which no request starts, a running request is stopped, pending steps fail."""
    on_secret: Callable[[str], None] = lambda _value: None
    """Called with every captured value that must be masked."""
    reach: Callable[[], int] = lambda: 0
    """How far past a cut a value ``scrub`` masks may reach (``Redactor.reach``): text is masked that
    much beyond what is shown, so a credential that starts inside is masked whole."""
    scrub: Callable[[str], str] = _unchanged
    """Masks every known credential (``Redactor.scrub_text``). Response text goes through it before it is
    collapsed, quoted or cut into a message: a transformed or half-cut password is no longer recognisable."""


class StepFailure(Exception):
    pass


class StepConfigError(StepFailure):
    """The step cannot be done as configured (a form or submitter selector that picks nothing on a page
    that has forms, a default form that is ambiguous): the run is exit 2, after ``finally`` steps ran."""


class FlowOrderError(ValueError):
    """A ``use`` that cannot be followed; ``flow`` is the flow whose ``use`` list is at fault (or None)."""

    def __init__(self, message: str, flow: str | None) -> None:
        super().__init__(message)
        self.flow = flow


class _Session:
    """One flow's state: its cookie jar (the client), captured values and the last page."""

    def __init__(
        self, flow: str, client: httpx.Client, options: RunOptions, max_body_bytes: int = MAX_BODY_BYTES
    ) -> None:
        self.flow = flow
        self.client = client
        self.options = options
        self.max_body_bytes = max_body_bytes
        self.values: dict[str, str] = {}
        self.last: httpx.Response | None = None
        self.failed = False
        self.masked_cookies: set[str] = set()
        """Where the user's regular expressions meet the server's text (killed at the deadline)."""

    def shown(self, text: str) -> str:
        """``text`` fit for a message: credentials masked, URLs without their userinfo."""
        return without_userinfo(self.options.scrub(text))

    def fill(self, value: Any) -> Any:
        """``{name}`` -> the captured value, in strings, lists and tables."""
        if isinstance(value, str):
            return _PLACEHOLDER.sub(lambda m: self._value(m.group(1)), value)
        if isinstance(value, list):
            return [self.fill(v) for v in value]
        if isinstance(value, dict):
            return {self.fill(k): self.fill(v) for k, v in value.items()}
        return value

    def _value(self, name: str) -> str:
        if name not in self.values:
            raise StepFailure(f"{{{name}}} was never captured (no earlier step captures it, or it failed)")
        return self.values[name]


@dataclass
class UseMemo:
    """What :func:`flow_order` learnt about flows already ordered (shared across calls on the same flows)."""

    order: dict[str, list[str]] = field(default_factory=dict)
    height: dict[str, int] = field(default_factory=dict)
    """Flows in the longest ``use`` chain from this flow down (1: it uses none)."""
    deepest: dict[str, str | None] = field(default_factory=dict)
    """The used flow that chain goes through (to name the chain in a message)."""

    def chain(self, name: str) -> list[str]:
        names: list[str] = []
        current: str | None = name
        while current is not None:
            names.append(current)
            current = self.deepest[current]
        return names


def flow_order(flows: Mapping[str, Flow], name: str, memo: UseMemo | None = None) -> list[str]:
    """``name`` preceded by the flows it uses (depth first, each once).

    Iterative and memoised: a diamond of ``use`` (each level using both flows of the level below) is
    ordered in linear time instead of expanding every path, and a long chain cannot exhaust Python's
    stack. A cycle, an unknown flow and a chain of more than :data:`MAX_USE_DEPTH` flows (counted through
    memoised flows too) raise :class:`FlowOrderError` naming the chain.
    """
    memo = UseMemo() if memo is None else memo
    if name in memo.order:
        return memo.order[name]
    if name not in flows:
        raise FlowOrderError(f"unknown flow {name!r}", None)
    path, next_use, on_path = [name], [0], {name}
    while path:
        current = path[-1]
        uses = flows[current].use
        if next_use[-1] < len(uses):
            used = uses[next_use[-1]]
            next_use[-1] += 1
            if used in on_path:
                raise FlowOrderError(f"flows use each other in a cycle: {_chain([*path, used])}", current)
            if used not in flows:
                raise FlowOrderError(f"flow {current!r} uses unknown flow {used!r}", current)
            below = memo.chain(used) if used in memo.order else [used]
            if len(path) + len(below) > MAX_USE_DEPTH:
                raise FlowOrderError(
                    f"flows use each other more than {MAX_USE_DEPTH} deep: {_chain([*path, *below])}", current
                )
            if used not in memo.order:
                path.append(used)
                next_use.append(0)
                on_path.add(used)
            continue
        order: dict[str, None] = {}
        for used in uses:
            order.update(dict.fromkeys(memo.order[used]))
        order[current] = None
        memo.order[current] = list(order)
        memo.deepest[current] = max(uses, key=lambda u: memo.height[u], default=None)
        memo.height[current] = 1 + max((memo.height[u] for u in uses), default=0)
        path.pop()
        next_use.pop()
        on_path.discard(current)
    return memo.order[name]


def _chain(names: list[str]) -> str:
    """A ``use`` chain for a message: all of it when short, else its start and end."""
    if len(names) <= 8:
        return " -> ".join(names)
    return " -> ".join([*names[:4], "…", *names[-3:]])


def check_uses(flows: Mapping[str, Flow]) -> None:
    """Every flow's ``use`` can be followed (FlowOrderError otherwise), in time linear in the flows."""
    memo = UseMemo()
    for name in flows:
        flow_order(flows, name, memo)


def step_name(step: Step) -> str:
    return step.name or f"{step.method.upper()} {step.path or step.url or '/'}"


def run_flows(settings: FlowSet, options: RunOptions, names: Iterable[str] | None = None) -> list[FlowResult]:
    """Run the named flows (default: all) concurrently, each in its own session."""
    chosen = list(names) if names is not None else list(settings.flows)
    try:
        with ThreadPoolExecutor(max_workers=max(1, min(settings.concurrency, len(chosen) or 1))) as pool:
            return list(pool.map(lambda name: run_flow(settings, name, options), chosen))
    finally:
        POOL.close()  # the regular expression helpers the flows started


def run_flow(settings: FlowSet, name: str, options: RunOptions) -> FlowResult:
    started = time.monotonic()
    result = FlowResult(name)
    try:
        chain = flow_order(settings.flows, name)
    except FlowOrderError as exc:  # callers that did not run check_uses first (p95's login) get a failure
        result.steps.append(StepResult(name, "use", "error", message=str(exc)))
        return result
    with _http.client(options.client) as client:
        session = _Session(name, client, options, settings.max_body_bytes)
        _run_steps(settings, chain, name, session, result)
        result.cookies = {cookie.name: cookie.value or "" for cookie in client.cookies.jar}
        result.values = dict(session.values)
    result.duration_s = time.monotonic() - started
    return result


def _run_steps(settings: FlowSet, chain: list[str], name: str, session: _Session, result: FlowResult) -> None:
    """The chain's steps in order (skipped after a failure), then every ``finally`` step."""
    for flow_name in chain:
        for index, step in enumerate(settings.flows[flow_name].steps):
            label = step_name(step) if flow_name == name else f"{flow_name}: {step_name(step)}"
            if session.failed:
                skipped = StepResult(name, label, "skip", message="skipped: an earlier step failed")
                result.steps.append(skipped)
                continue
            outcome = _run_step(session, step, label)
            outcome.where = ("smoke", "flows", flow_name, "steps", index)
            session.failed = outcome.status in ("fail", "error")
            result.steps.append(outcome)
    for flow_name in reversed(chain):
        for index, step in enumerate(settings.flows[flow_name].finally_):
            outcome = _run_step(session, step, f"finally: {step_name(step)}")
            outcome.cleanup, outcome.where = True, ("smoke", "flows", flow_name, "finally", index)
            result.steps.append(outcome)


def _condition_holds(session: _Session, condition: str) -> bool:
    match = CONDITION.match(condition)
    if match is None:
        raise StepFailure(f"cannot read the condition {condition!r}: use '{{name}}', '{{name}} == x' or '!='")
    name, op, expected = match.groups()
    value = session.values.get(name)
    if op is None:
        return bool(value)
    return (value == expected) if op == "==" else (value != expected)


def _run_step(session: _Session, step: Step, label: str) -> StepResult:
    result = StepResult(session.flow, label, "pass", method=step.method.upper())
    started = time.monotonic()
    try:
        if step.when is not None and not _condition_holds(session, step.when):
            result.status, result.message = "skip", f"skipped: {step.when} does not hold"
            return result
        attempts = step.retry.attempts if step.retry else 1
        for attempt in range(1, attempts + 1):
            result.attempts = attempt
            problems = _attempt(session, step, result)
            if not problems:
                break
            if (
                attempt < attempts
                and step.retry
                and time.monotonic() + step.retry.interval_s < session.options.deadline
            ):
                time.sleep(step.retry.interval_s)
                continue
            tries = f" (after {attempt} attempts)" if attempt > 1 else ""
            raise StepFailure("; ".join(problems) + tries)
    except StepConfigError as failure:
        result.status, result.message = "error", session.shown(str(failure))
        result.config_error = True
    except StepFailure as failure:
        result.status, result.message = "fail", session.shown(str(failure))
    except Exception as exc:  # any failure is this step's: the flow's finally steps still run
        detail = str(exc) or type(exc).__name__
        result.status, result.message = "error", session.shown(f"{type(exc).__name__}: {detail}")
    finally:
        result.duration_s = time.monotonic() - started
    return result


def _attempt(session: _Session, step: Step, result: StepResult) -> list[str]:
    """Send the step's request once; the list of what did not hold (empty: passed)."""
    request = _build(session, step)
    shown_url = display_url(request.url)
    result.url, result.method = shown_url, request.method
    if step.submit_form is not None and not step.name:
        # Named after what the form really sent (the step's own method and path are not what was used).
        default, used = step_name(step), f"{request.method} {request.url.path}"
        if result.name.endswith(default):
            result.name = result.name[: len(result.name) - len(default)] + used
    started = time.monotonic()
    remaining = session.options.deadline - started
    if remaining <= 0:
        raise StepFailure("the run's time budget (run_timeout_s) was used up before this step")
    timeout = min(session.options.client.timeout_s, remaining)
    request.extensions = {**request.extensions, "timeout": httpx.Timeout(timeout).as_dict()}
    clock = time.perf_counter()
    try:
        # The whole request (connect, headers, body, redirects) ends by this deadline, however slowly the
        # server trickles: httpx's own timeouts restart with every byte read.
        with _http.deadline(started + timeout):
            response, cut = _send(session, step, request)
    except httpx.HTTPError as exc:
        if time.monotonic() >= session.options.deadline:
            why = "stopped: the run's time budget (run_timeout_s) ran out during this request"
        elif isinstance(exc, httpx.TimeoutException):
            why = f"timed out after {timeout:g} s (the whole request: timeout_s)"
        else:
            why = _http.describe_error(exc, timeout)
        return [f"{request.method} {shown_url}: {why}"]
    elapsed_ms = (time.perf_counter() - clock) * 1000
    result.response_status = response.status_code
    session.last = response
    problems = _check(step.expect, request, response, elapsed_ms, session)
    if not problems:
        problems = _capture(session, step.capture, response)
    if cut and _needs_body(step):
        cap = session.max_body_bytes
        problems.append(
            f"the body is longer than max_body_bytes ({cap} bytes) and was cut there; this step's "
            f"{_needs_body(step)} needed all of it"
        )
    if problems:
        problems[-1] += f" · {_excerpt(response, session)} · {elapsed_ms:.0f} ms"
    return problems


def _needs_body(step: Step) -> str:
    """What in the step reads the whole body (expectations, captures), or "" when nothing does.

    ``body_contains`` is not listed: a text found in the part that was read is there.
    """
    expect = step.expect
    needs = ["body_not_contains"] if expect.body_not_contains else []
    needs += ["json"] if expect.json or expect.json_matches else []
    needs += [
        f"capture {name}"
        for name, capture in step.capture.items()
        if capture.css is not None or capture.json is not None or capture.regex is not None
    ]
    return ", ".join(needs)


def _send(session: _Session, step: Step, request: httpx.Request) -> tuple[httpx.Response, bool]:
    """Send ``request``, following redirects when the step asks; each body read up to the cap.

    Redirects are followed here, not by httpx: httpx drops only Authorization (and cookies by domain) when
    a redirect leaves the origin, and would send a custom credential header (``X-Api-Key``) to any host
    the server names.
    """
    hops: list[httpx.Response] = []
    while True:
        response = session.client.send(request, stream=True)
        _mask_cookies(session, response)
        cut = _http.read_capped(response, session.max_body_bytes)
        if not (step.follow_redirects and response.has_redirect_location):
            break
        if len(hops) >= MAX_REDIRECTS:
            raise StepFailure(f"more than {MAX_REDIRECTS} redirects, last to {display_url(request.url)}")
        # A redirect's own body is never checked: holding 20 of them (4 MiB each, on 4 flows) would be
        # 320 MiB. Only the last response's body is kept.
        response._content = b""
        hops.append(response)
        request = _redirected(session, step, request, response)
    response.history = hops
    return response, cut


MIN_MASKED_COOKIE = 8
"""Cookie values this long are session ids or tokens; shorter ones ("en", "1", "dark") are preferences."""
MAX_MASKED_COOKIES = 16
"""Cookie values one flow registers as credentials. Each one makes every later masking dearer, and a
server that rotates its session cookie on every answer, polled by ``retry`` 10,000 times, would otherwise
make masking quadratic in the attempts."""


def _mask_cookies(session: _Session, response: httpx.Response) -> None:
    """Every cookie a server sets is a credential of this run, captured or not, from the moment it arrives:
    a failed ``headers`` expectation on ``Set-Cookie`` printed the whole session id."""
    for cookie in _set_cookies(response).values():
        value = cookie[""]
        if len(value) >= MIN_MASKED_COOKIE and value not in session.masked_cookies:
            if len(session.masked_cookies) >= MAX_MASKED_COOKIES:
                return
            session.masked_cookies.add(value)
            session.options.on_secret(value)


def _redirected(
    session: _Session, step: Step, request: httpx.Request, response: httpx.Response
) -> httpx.Request:
    """The request a redirect asks for, without the credentials that must not go to another origin."""
    location = response.headers["location"]
    try:
        url = request.url.join(location)
    except httpx.InvalidURL:
        raise StepFailure(
            f"cannot follow the redirect to {session.shown(location)!r}: not a valid URL"
        ) from None
    if url.scheme not in ("http", "https"):
        raise StepFailure(f"the redirect goes to a {url.scheme or 'relative'} URL, not http(s)")
    method = request.method
    if (response.status_code == 303 and method != "HEAD") or (
        response.status_code in (301, 302) and method == "POST"
    ):
        method = "GET"
    keeps_body = response.status_code in (307, 308)
    headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
    if not keeps_body:
        headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    body = request.content if keeps_body else b""
    if not same_site(request.url, url):
        headers = {k: v for k, v in headers.items() if not _carries_credential(session, k, v)}
        if body and not step.allow_other_host:
            raise StepFailure(
                f"a {response.status_code} redirect to {display_url(url)} (another host) would resend the "
                "request body there; set allow_other_host = true on this step if that is intended"
            )
    return session.client.build_request(method, url, headers=headers, content=body or None)


def _carries_credential(session: _Session, name: str, value: str) -> bool:
    """Whether a header must not follow a redirect to another origin."""
    lowered = name.lower()
    return (
        lowered in _CREDENTIAL_HEADERS
        or bool(_SECRET_NAME.search(lowered))
        or session.options.scrub(value) != value
    )


def _build(session: _Session, step: Step) -> httpx.Request:
    base = session.options.base_url
    method = step.method.upper()
    form = session.fill(step.form) if step.form is not None else None
    files = {}
    # Paths as written, never filled in: a captured {value} would let the server choose which local file
    # is sent to it (/proc/self/environ holds every credential of the run).
    for name, path in step.files.items():
        files[name] = (Path(path).name, _upload(path))
    content_kwargs: dict[str, Any] = {}
    headers = session.fill(step.headers) or {}
    if step.submit_form is not None:
        url, method, content_type, content = _submission(session, step, files)
        if content is not None:
            content_kwargs["content"] = content
        if not any(name.lower() == "content-type" for name in headers):
            headers = {"Content-Type": content_type, **headers} if content is not None else headers
    elif step.url:
        url = session.fill(step.url)
        for credential in userinfo_credentials(url):
            session.options.on_secret(credential)
    else:
        url = urljoin(base.rstrip("/") + "/", session.fill(step.path or "/").lstrip("/"))
    if step.submit_form is None and step.json is not None:
        content_kwargs["json"] = session.fill(step.json)
    elif step.submit_form is None and (form is not None or files):
        content_kwargs["data"] = form
        if files:
            content_kwargs["files"] = files
    request = session.client.build_request(
        method,
        url,
        params=session.fill(step.query) or None,
        headers=headers or None,
        **content_kwargs,
    )
    if step.url and _PLACEHOLDER.search(step.url) and not step.allow_other_host:
        _check_filled_target(session, request)
    return request


def _submission(
    session: _Session, step: Step, files: Mapping[str, tuple[str, bytes]]
) -> tuple[str, str, str, bytes | None]:
    """(url, method, content type, body or None) of the form of the last page, as a browser sends it."""
    assert step.submit_form is not None
    page = session.last
    if page is None:
        raise StepFailure("submit_form: no earlier step fetched a page to take the form from")
    chosen = step.submit_form
    with PARSING:
        document = _html.parse(page.text)
        try:
            found = _forms.submission(
                document, str(page.url), chosen.selector, chosen.submitter, session.fill(chosen.fields)
            )
        except _forms.FormError as exc:
            # On a page with forms, a selector that picks none is the configuration's fault (exit 2); on
            # a page without any (an error page), the server's.
            has_forms = bool(_html.select(document, "form"))
            if has_forms:
                raise StepConfigError(str(exc)) from None
            raise StepFailure(f"submit_form: {exc}") from None
    _check_form_target(session, step, found.action)
    entries = _with_uploads(found.entries, files)
    method = found.method if step.method.upper() == "GET" else step.method.upper()
    if method == "GET":
        return _forms.get_url(found.action, entries), method, "", None
    if found.enctype == _forms.MULTIPART:
        body, content_type = _forms.multipart(entries, {name: data for name, (_, data) in files.items()})
        return found.action, method, content_type, body
    if found.enctype == _forms.TEXT_PLAIN:
        return found.action, method, _forms.TEXT_PLAIN, _forms.text_plain(entries)
    return found.action, method, _forms.URLENCODED, _forms.urlencoded(entries).encode("ascii")


def _with_uploads(entries: list[_forms.Entry], files: Mapping[str, tuple[str, bytes]]) -> list[_forms.Entry]:
    """The step's ``files`` chosen in the form's file inputs (the first of each name; appended if none)."""
    result = list(entries)
    for name, (filename, _) in files.items():
        chosen = _forms.Entry(name, "", filename=filename)
        index = next((i for i, e in enumerate(result) if e.name == name and e.filename is not None), None)
        if index is None:
            result.append(chosen)
        else:
            result[index] = chosen
    return result


def _check_filled_target(session: _Session, request: httpx.Request) -> None:
    """A URL a captured ``{value}`` completed goes where the server said: like a redirect, it gets the
    step's credentials (headers that carry one, a body holding one) only on the base URL's origin."""
    base = httpx.URL(session.options.base_url)
    if same_site(base, request.url):
        return
    carried = [name for name, value in request.headers.items() if _carries_credential(session, name, value)]
    if request.method != "GET" and request.content:
        body = request.content.decode("utf-8", "replace")
        if session.options.scrub(body) != body:
            carried.append("the body")
    if carried:
        raise StepFailure(
            f"the step's url, completed by a captured value, goes to {display_url(request.url)}, another "
            f"host than {display_url(base)}, and would carry credentials there ({', '.join(carried)}); set "
            "allow_other_host = true on this step if that is intended"
        )


def _check_form_target(session: _Session, step: Step, action: str) -> None:
    """A form's fields (a password among them) go only to the base URL's origin unless the step allows it."""
    try:
        target, base = httpx.URL(action), httpx.URL(session.options.base_url)
    except httpx.InvalidURL:
        raise StepFailure(
            f"submit_form: the form's action {session.shown(action)!r} is not a valid URL"
        ) from None
    if not step.allow_other_host and not same_site(base, target):
        raise StepFailure(
            f"submit_form: the form sends to {display_url(target)}, another host than {display_url(base)}; "
            "set allow_other_host = true on this step if that is intended"
        )


def _upload(path: str) -> bytes:
    """A file to upload, read whole, when it is a regular file of at most :data:`MAX_UPLOAD_BYTES`."""
    try:
        # Opened without blocking: opening a FIFO for reading waits for a writer, forever and outside
        # any request deadline. Only then is it known to be a regular file, and read as one.
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with open(descriptor, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise StepFailure(f"cannot upload {path}: not a regular file")
            data = handle.read(MAX_UPLOAD_BYTES + 1)
    except OSError as exc:
        raise StepFailure(f"cannot read the file to upload {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_UPLOAD_BYTES:
        raise StepFailure(f"cannot upload {path}: larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MiB")
    return data


def _search(session: _Session, pattern: str, text: str) -> Found | None:
    """``re.search``, ended by the step's time (``timeout_s``) and the run's deadline.

    A pattern that a filled-in value made invalid fails the step, not the run; a search that backtracks
    without end on the server's text fails it when the time is up (see :mod:`._regex_box`).
    """
    try:
        re.compile(pattern)
    except (re.error, OverflowError, RecursionError) as exc:
        raise StepFailure(f"the regular expression {pattern!r} is not valid ({exc})") from None
    timeout = min(session.options.client.timeout_s, session.options.deadline - time.monotonic())
    if timeout <= 0:
        raise StepFailure("the run's time budget (run_timeout_s) was used up before this step's checks")
    try:
        return POOL.search(pattern, text, timeout)
    except RegexTimeout:
        raise StepFailure(
            f"the regular expression {pattern!r} did not finish within {timeout:.1f} s on this response "
            "(it backtracks without end on this text; timeout_s bounds it)"
        ) from None
    except RegexFailed as exc:
        raise StepFailure(f"the regular expression {pattern!r} could not run: {exc}") from None


def _check(
    expect: Expect, request: httpx.Request, response: httpx.Response, elapsed_ms: float, session: _Session
) -> list[str]:
    problems = _check_status(expect.status, response.status_code) + _check_body(
        expect, response.text, session
    )
    if expect.json or expect.json_matches:
        problems += _check_json(expect, response, session)
    for name, pattern in expect.headers.items():
        value = response.headers.get(name)
        if value is None:
            problems.append(f"no {name} header")
        elif not _search(session, session.fill(pattern), value):
            problems.append(f"header {name}: {session.shown(value)!r} does not match {pattern!r}")
    cookies = _set_cookies(response)
    for name, wanted_cookie in expect.cookies.items():
        problems += _check_cookie(name, wanted_cookie, cookies.get(name))
    if expect.redirect is not None:
        problems += _check_redirect(session.fill(expect.redirect), request, response)
    if expect.max_ms is not None and elapsed_ms > expect.max_ms:
        problems.append(f"took {elapsed_ms:.0f} ms, over the {expect.max_ms:g} ms budget")
    return problems


def _check_status(wanted: int | list[int] | None, status: int) -> list[str]:
    if wanted is None:
        return [] if 200 <= status < 400 else [f"expected a 2xx or 3xx status, got {status}"]
    allowed = wanted if isinstance(wanted, list) else [wanted]
    return [] if status in allowed else [f"expected status {wanted}, got {status}"]


def _check_body(expect: Expect, text: str, session: _Session) -> list[str]:
    missing = [f"body does not contain {n!r}" for n in expect.body_contains if session.fill(n) not in text]
    present = [f"body contains {n!r}" for n in expect.body_not_contains if session.fill(n) in text]
    return missing + present


def _check_json(expect: Expect, response: httpx.Response, session: _Session) -> list[str]:
    with PARSING:
        try:
            document = json_body(response)
        except ValueError as exc:
            return [str(exc)]
        return _check_document(expect, document, session)


def _check_document(expect: Expect, document: Any, session: _Session) -> list[str]:
    problems = []
    for path, wanted in expect.json.items():
        actual, missing = _json_at(document, path)
        if missing:
            problems.append(missing)
        elif actual != session.fill(wanted):
            problems.append(
                f"{path} is {_shown_json(session, actual)}, expected {jsonlib.dumps(session.fill(wanted))}"
            )
    for path, pattern in expect.json_matches.items():
        actual, missing = _json_at(document, path)
        if missing:
            problems.append(missing)
        elif not _search(session, session.fill(pattern), str(actual)):
            problems.append(f"{path} is {_shown_json(session, actual)}, which does not match {pattern!r}")
    return problems


def _shown_json(session: _Session, value: Any) -> str:
    """A JSON value for a message: its strings scrubbed before they are JSON-escaped, then cut."""
    text = jsonlib.dumps(_scrubbed(session, value))
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "…"


def _scrubbed(session: _Session, value: Any) -> Any:
    if isinstance(value, str):
        return session.shown(value)
    if isinstance(value, list):
        return [_scrubbed(session, v) for v in value]
    if isinstance(value, dict):
        return {session.shown(k): _scrubbed(session, v) for k, v in value.items()}
    return value


def _json_at(document: Any, path: str) -> tuple[Any, str]:
    """(value, "") at ``path``, or (None, why) when it is not there."""
    try:
        return _jsonpath.get(document, path), ""
    except LookupError:
        return None, f"{path} is missing"


def _set_cookies(response: httpx.Response) -> dict[str, dict[str, str]]:
    """Cookie name -> its attributes as the response set them (lower-cased names; value under '')."""
    cookies: dict[str, dict[str, str]] = {}
    for header in response.headers.get_list("set-cookie"):
        first, *attributes = header.split(";")
        name, _, value = first.strip().partition("=")
        parsed = {"": value}
        for attribute in attributes:
            key, _, attr_value = attribute.strip().partition("=")
            parsed[key.lower()] = attr_value
        cookies[name] = parsed
    return cookies


def _check_cookie(name: str, wanted: CookieExpect, cookie: dict[str, str] | None) -> list[str]:
    if cookie is None:
        return [f"cookie {name} is not set"] if wanted.present else []
    if not wanted.present:
        return [f"cookie {name} is set"]
    problems = []
    for flag, label, required in (
        ("secure", "Secure", wanted.secure),
        ("httponly", "HttpOnly", wanted.http_only),
    ):
        if required is not None and (flag in cookie) != required:
            problems.append(f"cookie {name} is {'not ' if required else ''}{label}")
    if wanted.same_site is not None and cookie.get("samesite", "").lower() != wanted.same_site:
        problems.append(
            f"cookie {name} has SameSite={cookie.get('samesite') or '(none)'}, expected {wanted.same_site}"
        )
    return problems


def _check_redirect(wanted: str, request: httpx.Request, response: httpx.Response) -> list[str]:
    if response.history:  # followed: compare where it ended
        target = str(response.url)
    else:
        location = response.headers.get("location")
        if location is None:
            return [f"expected a redirect to {wanted}, got no Location header"]
        target = urljoin(str(request.url), location)
    if wanted.startswith("/"):
        parts = urlsplit(target)
        actual = parts.path + (f"?{parts.query}" if parts.query else "")
        if wanted in (actual, parts.path):
            return []
        return [f"redirects to {without_userinfo(actual)}, expected {wanted}"]
    return [] if target == wanted else [f"redirects to {display_url(target)}, expected {wanted}"]


def _capture(session: _Session, captures: Mapping[str, Capture], response: httpx.Response) -> list[str]:
    problems = []
    for name, capture in captures.items():
        try:
            value = _extract(capture, response, session)
        except (LookupError, ValueError) as exc:
            problems.append(f"capture {name}: {exc}")
            continue
        session.values[name] = value
        secret = (
            capture.secret
            if capture.secret is not None
            else bool(capture.cookie or _SECRET_NAME.search(name))
        )
        if secret:
            session.options.on_secret(value)
    return problems


def _extract(capture: Capture, response: httpx.Response, session: _Session) -> str:
    if capture.css is not None:
        with PARSING:
            page = _html.parse(response.text)
            elements = _html.select(page, capture.css)
            if not elements:
                cut = f" (the page has {page.cut})" if page.cut else ""
                raise LookupError(f"{capture.css!r} matches nothing{cut}")
            element = elements[0]
            if capture.attr is None:
                return _html.text(element)
            attributes = _html.attributes(element)
            if capture.attr not in attributes:
                raise LookupError(f"{capture.css!r} has no {capture.attr} attribute")
            return attributes[capture.attr]
    if capture.json is not None:
        with PARSING:
            value = _jsonpath.get(json_body(response), capture.json)
            return value if isinstance(value, str) else jsonlib.dumps(value)
    if capture.header is not None:
        if capture.header not in response.headers:
            raise LookupError(f"no {capture.header} header")
        return response.headers[capture.header]
    if capture.cookie is not None:
        cookie = _set_cookies(response).get(capture.cookie)
        if cookie is None:
            raise LookupError(f"cookie {capture.cookie} is not set")
        return cookie[""]
    if capture.regex is not None:
        match = _search(session, capture.regex, response.text)
        if match is None:
            raise LookupError(f"{capture.regex!r} matches nothing")
        return match.first()
    raise ValueError("say what to capture: css, json, header, cookie or regex")


def _excerpt(response: httpx.Response, session: _Session) -> str:
    """What a person looks for in the answer, on one line, credentials and values naming a secret masked.

    An HTML page shows its form errors first (Django's ``errorlist``, ``alert``, ``invalid-feedback``,
    ``error``, ``role="alert"``), then its visible text (no head, scripts, styles or templates): the first
    300 characters of a page's source are its ``<head>``. Anything else shows the start of the body.
    """
    status = response.status_code
    if _is_html(response):
        with PARSING:
            errors, visible = _html.readable_text(_html.parse(response.text))
        shown = []
        if errors:
            shown.append(f"form errors: {_masked_start(' · '.join(errors), session)!r}")
        text = _masked_start(visible, session)
        shown.append(f"page text: {text!r}" if text else "no visible text")
        return f"got {status}, " + ", ".join(shown)
    text = _masked_start(response.text, session)
    return f"got {status}, body: {text!r}" if text else f"got {status}, empty body"


def _is_html(response: httpx.Response) -> bool:
    content_type = response.headers.get("content-type", "").lower()
    if "html" in content_type:
        return True
    return not content_type and response.text[:512].lstrip()[:14].lower() in ("<!doctype html", "<html")


def _masked_start(body: str, session: _Session) -> str:
    """The start of ``body`` on one line and cut at EXCERPT_CHARS, masked first.

    Masking comes first, on the text as it came: collapsing whitespace, quoting and cutting all change
    how a credential is spelt (a quote escaped, half a password left), and the masker knows the original.
    """
    # Only the head of the body that can reach the excerpt is masked, with room for the longest spelling
    # of a known value that starts inside it: masking 4 MiB to show 300 characters took seconds per
    # failed attempt with a few dozen credentials.
    head = body[: _window_end(body) + session.options.reach()]
    masked = session.shown(head)
    # Once every credential is masked, cutting is safe. Only the words that can reach the excerpt are
    # collapsed (a 4 MiB body split into words would cost ten times its size), with room for the
    # secret-looking ``key=value`` masking to see a whole value at the end.
    words: list[str] = []
    length = 0
    for word in _WORD.finditer(masked):
        words.append(word.group(0))
        length += len(word.group(0)) + 1
        if length > EXCERPT_CHARS + _EXCERPT_MARGIN:
            break
    # Cut before the key=value mask: its pattern is quadratic on one long word (4 MiB of "0").
    window = " ".join(words)[: EXCERPT_CHARS + _EXCERPT_MARGIN]
    text = _SECRET_VALUE.sub(lambda m: m.group("key") + "***", window)
    if len(text) > EXCERPT_CHARS or length > EXCERPT_CHARS + _EXCERPT_MARGIN or len(head) < len(body):
        text = text[:EXCERPT_CHARS] + "…"
    return text


def _window_end(body: str) -> int:
    """Where the raw words that fill the excerpt's window end (a long word counts only its start)."""
    length = 0
    for word in _WORD.finditer(body):
        room = EXCERPT_CHARS + _EXCERPT_MARGIN - length
        if word.end() - word.start() >= room:
            return word.start() + room
        length += word.end() - word.start() + 1
    return len(body)
