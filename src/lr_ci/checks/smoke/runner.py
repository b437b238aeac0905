"""Running smoke flows: requests in order, expectations checked, values captured, cleanup always run.

Usable from Python on its own (the uptime monitor reuses it): :func:`run_flows` takes settings and a base
URL and returns a structured :class:`FlowResult` per flow, with a :class:`StepResult` per step.
"""

from __future__ import annotations

import json as jsonlib
import re
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from lr_ci import _http
from lr_ci.checks.smoke import _html, _jsonpath
from lr_ci.checks.smoke.settings import Capture, CookieExpect, Expect, Flow, SmokeSettings, Step

EXCERPT_CHARS = 300
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][\w-]*)\}")
_SECRET_NAME = re.compile(r"token|csrf|session|secret|password|passwd|key|auth|cookie", re.IGNORECASE)
# Values of JSON keys and form fields that name a secret, masked in body excerpts even when not captured.
_SECRET_VALUE = re.compile(
    r"""(?P<key>["']?[\w-]*(?:token|secret|password|passwd|api_?key|session|csrf)[\w-]*["']?\s*[:=]\s*["']?)"""
    r"""(?P<value>[^"'\s,&}<]{4,})""",
    re.IGNORECASE,
)
_CONDITION = re.compile(r"^\s*\{([A-Za-z_][\w-]*)\}\s*(?:(==|!=)\s*(.*?))?\s*$")


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


@dataclass(frozen=True)
class RunOptions:
    base_url: str
    client: _http.ClientOptions = field(default_factory=_http.ClientOptions)
    deadline: float = float("inf")
    """time.monotonic() after which no request starts and pending steps fail."""
    on_secret: Callable[[str], None] = lambda _value: None
    """Called with every captured value that must be masked."""


class StepFailure(Exception):
    pass


class _Session:
    """One flow's state: its cookie jar (the client), captured values and the last page."""

    def __init__(self, flow: str, client: httpx.Client, options: RunOptions) -> None:
        self.flow = flow
        self.client = client
        self.options = options
        self.values: dict[str, str] = {}
        self.last: httpx.Response | None = None
        self.failed = False

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


def flow_order(flows: Mapping[str, Flow], name: str, seen: tuple[str, ...] = ()) -> list[str]:
    """``name`` preceded by the flows it uses (depth first, each once); a cycle is an error."""
    if name in seen:
        raise ValueError(f"flows use each other in a cycle: {' -> '.join((*seen, name))}")
    if name not in flows:
        raise ValueError(f"unknown flow {name!r}")
    order: list[str] = []
    for used in flows[name].use:
        for item in flow_order(flows, used, (*seen, name)):
            if item not in order:
                order.append(item)
    return [*order, name]


def step_name(step: Step) -> str:
    return step.name or f"{step.method.upper()} {step.path or step.url or '/'}"


def run_flows(
    settings: SmokeSettings, options: RunOptions, names: Iterable[str] | None = None
) -> list[FlowResult]:
    """Run the named flows (default: all) concurrently, each in its own session."""
    chosen = list(names) if names is not None else list(settings.flows)
    with ThreadPoolExecutor(max_workers=max(1, min(settings.concurrency, len(chosen) or 1))) as pool:
        return list(pool.map(lambda name: run_flow(settings, name, options), chosen))


def run_flow(settings: SmokeSettings, name: str, options: RunOptions) -> FlowResult:
    started = time.monotonic()
    result = FlowResult(name)
    chain = flow_order(settings.flows, name)
    with _http.client(options.client) as client:
        session = _Session(name, client, options)
        for flow_name in chain:
            for step in settings.flows[flow_name].steps:
                label = step_name(step) if flow_name == name else f"{flow_name}: {step_name(step)}"
                if session.failed:
                    result.steps.append(
                        StepResult(name, label, "skip", message="skipped: an earlier step failed")
                    )
                    continue
                outcome = _run_step(session, step, label)
                session.failed = outcome.status in ("fail", "error")
                result.steps.append(outcome)
        for flow_name in reversed(chain):
            for step in settings.flows[flow_name].finally_:
                label = f"finally: {step_name(step)}"
                outcome = _run_step(session, step, label)
                outcome.cleanup = True
                result.steps.append(outcome)
        result.cookies = {cookie.name: cookie.value or "" for cookie in client.cookies.jar}
        result.values = dict(session.values)
    result.duration_s = time.monotonic() - started
    return result


def _condition_holds(session: _Session, condition: str) -> bool:
    match = _CONDITION.match(condition)
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
    except StepFailure as failure:
        result.status, result.message = "fail", str(failure)
    finally:
        result.duration_s = time.monotonic() - started
    return result


def _attempt(session: _Session, step: Step, result: StepResult) -> list[str]:
    """Send the step's request once; the list of what did not hold (empty: passed)."""
    request = _build(session, step)
    result.url = str(request.url)
    remaining = session.options.deadline - time.monotonic()
    if remaining <= 0:
        raise StepFailure("the run's time budget was used up before this step")
    timeout = min(session.options.client.timeout_s, remaining)
    request.extensions = {**request.extensions, "timeout": httpx.Timeout(timeout).as_dict()}
    clock = time.perf_counter()
    try:
        response = session.client.send(request, follow_redirects=step.follow_redirects)
        response.read()
    except httpx.HTTPError as exc:
        return [f"{request.method} {request.url}: {_http.describe_error(exc, timeout)}"]
    elapsed_ms = (time.perf_counter() - clock) * 1000
    result.response_status = response.status_code
    session.last = response
    problems = _check(step.expect, request, response, elapsed_ms, session)
    if not problems:
        problems = _capture(session, step.capture, response)
    if problems:
        problems[-1] += f" · {_excerpt(response)} · {elapsed_ms:.0f} ms"
    return problems


def _build(session: _Session, step: Step) -> httpx.Request:
    base = session.options.base_url
    method = step.method.upper()
    form = session.fill(step.form) if step.form is not None else None
    if step.submit_form is not None:
        page = session.last
        if page is None:
            raise StepFailure("submit_form: no earlier step fetched a page to take the form from")
        found = _html.find_form(_html.parse(page.text), str(page.url), step.submit_form.selector)
        if found is None:
            raise StepFailure(f"submit_form: no form found on {page.url}")
        form = {**found.fields, **session.fill(step.submit_form.fields)}
        url, method = found.action, found.method if step.method.upper() == "GET" else method
    elif step.url:
        url = session.fill(step.url)
    else:
        url = urljoin(base.rstrip("/") + "/", session.fill(step.path or "/").lstrip("/"))
    files = {}
    for name, path in session.fill(step.files).items():
        try:
            files[name] = (Path(path).name, Path(path).read_bytes())
        except OSError as exc:
            raise StepFailure(f"cannot read the file to upload {path}: {exc.strerror or exc}") from None
    content_kwargs: dict[str, Any] = {}
    if step.json is not None:
        content_kwargs["json"] = session.fill(step.json)
    elif form is not None or files:
        content_kwargs["data"] = form
        if files:
            content_kwargs["files"] = files
    return session.client.build_request(
        method,
        url,
        params=session.fill(step.query) or None,
        headers=session.fill(step.headers) or None,
        **content_kwargs,
    )


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
        elif not re.search(session.fill(pattern), value):
            problems.append(f"header {name}: {value!r} does not match {pattern!r}")
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
    try:
        document = response.json()
    except ValueError:
        return ["body is not JSON"]
    problems = []
    for path, wanted in expect.json.items():
        actual, missing = _json_at(document, path)
        if missing:
            problems.append(missing)
        elif actual != session.fill(wanted):
            problems.append(
                f"{path} is {jsonlib.dumps(actual)}, expected {jsonlib.dumps(session.fill(wanted))}"
            )
    for path, pattern in expect.json_matches.items():
        actual, missing = _json_at(document, path)
        if missing:
            problems.append(missing)
        elif not re.search(session.fill(pattern), str(actual)):
            problems.append(f"{path} is {jsonlib.dumps(actual)}, which does not match {pattern!r}")
    return problems


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
        return [f"redirects to {actual}, expected {wanted}"]
    return [] if target == wanted else [f"redirects to {target}, expected {wanted}"]


def _capture(session: _Session, captures: Mapping[str, Capture], response: httpx.Response) -> list[str]:
    problems = []
    for name, capture in captures.items():
        try:
            value = _extract(capture, response)
        except (LookupError, ValueError, _html.SelectorError) as exc:
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


def _extract(capture: Capture, response: httpx.Response) -> str:
    if capture.css is not None:
        elements = _html.select(_html.parse(response.text), capture.css)
        if not elements:
            raise LookupError(f"{capture.css!r} matches nothing")
        element = elements[0]
        if capture.attr is None:
            return element.text
        if capture.attr not in element.attrs:
            raise LookupError(f"{capture.css!r} has no {capture.attr} attribute")
        return element.attrs[capture.attr]
    if capture.json is not None:
        value = _jsonpath.get(response.json(), capture.json)
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
        match = re.search(capture.regex, response.text)
        if match is None:
            raise LookupError(f"{capture.regex!r} matches nothing")
        return match.group(1) if match.groups() else match.group(0)
    raise ValueError("say what to capture: css, json, header, cookie or regex")


def _excerpt(response: httpx.Response) -> str:
    """The start of the body, with values that name a secret masked, on one line."""
    text = " ".join(response.text.split())
    text = _SECRET_VALUE.sub(lambda m: m.group("key") + "***", text)
    if len(text) > EXCERPT_CHARS:
        text = text[:EXCERPT_CHARS] + "…"
    return (
        f"got {response.status_code}, body: {text!r}" if text else f"got {response.status_code}, empty body"
    )
