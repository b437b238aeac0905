"""Flows: named sequences of steps, each a request and what must hold of its response.

The models that ``[smoke]`` flows are validated into (``lr-ci smoke`` runs them after a deploy, ``p95``
logs in with one, ``uptime`` monitors will probe with them): pydantic dataclasses, so that a flow written
in ``lr-ci.toml`` is checked when the file loads, with the file's line in the error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from lr_ci.config import SETTINGS_CONFIG

MAX_BODY_BYTES = 4 * 1024 * 1024
"""Default for ``max_body_bytes``: more than any page or API answer a smoke step checks."""
MAX_TIMEOUT_S = 24 * 3600.0
"""No timeout of a flow is longer than a day: a bigger number is a typo (milliseconds for seconds)."""
CONDITION = re.compile(r"^\s*\{([A-Za-z_][\w-]*)\}\s*(?:(==|!=)\s*(.*?))?\s*$")
_METHOD = re.compile(r"[A-Za-z][A-Za-z0-9_-]*\Z")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")


def _regex(pattern: str) -> str:
    """A regular expression that compiles (else a config error now, not an internal error mid-flow)."""
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression ({exc})") from None
    except (OverflowError, RecursionError):
        raise ValueError("regular expression too large or too deeply nested") from None
    return pattern


def _json_path(path: str) -> str:
    from lr_ci.flows import _jsonpath

    try:
        _jsonpath.steps(path)
    except _jsonpath.PathError as exc:  # a LookupError, which pydantic would not turn into a config error
        raise ValueError(str(exc)) from None
    return path


def _css(selector: str) -> str:
    from lr_ci.flows import _html

    try:
        return _html.check_selector(selector)
    except _html.SelectorError as exc:
        raise ValueError(str(exc)) from None


def _condition(condition: str) -> str:
    if CONDITION.match(condition) is None:
        raise ValueError(f"cannot read the condition {condition!r}: use '{{name}}', '{{name}} == x' or '!='")
    return condition


def _method(method: str) -> str:
    if _METHOD.match(method) is None:
        raise ValueError(f"{method!r} is not an HTTP method")
    return method


def _header_name(name: str) -> str:
    if _HEADER_NAME.match(name) is None:
        raise ValueError(f"{name!r} is not an HTTP header name")
    return name


def _header_value(value: str) -> str:
    # The value is not repeated: it may be a credential read from the environment.
    if not value.isascii() or any(ch in value for ch in "\r\n\0"):
        raise ValueError("a header value is ASCII text on one line")
    return value


def _http_url(url: str) -> str:
    from lr_ci.flows.urls import check_http_url

    return check_http_url(url)


def _step_url(url: str) -> str:
    """A step's absolute URL, checked now unless a captured ``{value}`` completes it at run time."""
    return url if "{" in url else _http_url(url)


HttpUrl = Annotated[str, AfterValidator(_http_url)]
"""An absolute http(s) URL (a base URL)."""
Regex = Annotated[str, AfterValidator(_regex)]
JsonPath = Annotated[str, AfterValidator(_json_path)]
Seconds = Annotated[float, Field(gt=0, le=MAX_TIMEOUT_S, allow_inf_nan=False, strict=True)]
"""A timeout: a positive, finite number of seconds (no bool, no string, no NaN or infinity)."""
StatusCode = Annotated[int, Field(ge=100, le=599, strict=True)]


@dataclass(frozen=True, kw_only=True)
class CookieExpect:
    __pydantic_config__ = SETTINGS_CONFIG

    present: bool = True
    secure: bool | None = None
    http_only: bool | None = None
    same_site: Literal["strict", "lax", "none"] | None = None


@dataclass(frozen=True, kw_only=True)
class Expect:
    __pydantic_config__ = SETTINGS_CONFIG

    status: StatusCode | list[StatusCode] | None = None
    """Expected status (or any of a list). Unset: any 2xx or 3xx."""
    body_contains: list[str] = field(default_factory=list)
    body_not_contains: list[str] = field(default_factory=list)
    json: dict[JsonPath, Any] = field(default_factory=dict)
    """JSON path ($.a.b[0]) -> the value it must equal."""
    json_matches: dict[JsonPath, Regex] = field(default_factory=dict)
    """JSON path -> a regular expression its value must match."""
    headers: dict[str, Regex] = field(default_factory=dict)
    """Header name -> a regular expression its value must match."""
    cookies: dict[str, CookieExpect] = field(default_factory=dict)
    """Cookie name -> how the response must set it."""
    redirect: str | None = None
    """Where the response redirects (its Location, resolved against the request URL; a path is enough)."""
    max_ms: Annotated[float, Field(gt=0, allow_inf_nan=False, strict=True)] | None = None
    """Response-time budget for this step."""


@dataclass(frozen=True, kw_only=True)
class Capture:
    __pydantic_config__ = SETTINGS_CONFIG

    css: Annotated[str, AfterValidator(_css)] | None = None
    """A CSS selector; with ``attr`` the attribute's value, else the element's text."""
    attr: str | None = None
    json: JsonPath | None = None
    """A JSON path into the response body."""
    header: str | None = None
    cookie: str | None = None
    regex: Regex | None = None
    """A regular expression on the body: its first group, else the whole match."""
    secret: bool | None = None
    """Mask the value in every output. Unset: cookies, and names like token, csrf, session, password, key."""


@dataclass(frozen=True, kw_only=True)
class Retry:
    __pydantic_config__ = SETTINGS_CONFIG

    attempts: Annotated[int, Field(ge=1, le=10_000, strict=True)] = 10
    interval_s: Annotated[float, Field(ge=0, le=MAX_TIMEOUT_S, allow_inf_nan=False, strict=True)] = 0.5


@dataclass(frozen=True, kw_only=True)
class SubmitForm:
    """Submit the form of the page the previous step fetched (hidden fields, CSRF tokens included)."""

    __pydantic_config__ = SETTINGS_CONFIG

    selector: Annotated[str, AfterValidator(_css)] | None = None
    """Which form: a CSS selector. Unset: of the forms holding every field of ``fields``, the one with a
    password field, else the only one with a control a person fills in (docs/smoke.md)."""
    submitter: Annotated[str, AfterValidator(_css)] | None = None
    """The submit button a person clicks: a CSS selector. Unset: the form's default (first) submit
    button, as pressing Enter does."""
    fields: dict[str, str] = field(default_factory=dict)
    """Values typed into fields by name (the first entry of that name); the form's own for the others."""


@dataclass(frozen=True, kw_only=True)
class Step:
    __pydantic_config__ = SETTINGS_CONFIG

    name: str = ""
    method: Annotated[str, AfterValidator(_method)] = "GET"
    path: str | None = None
    """Relative to the base URL."""
    url: Annotated[str, AfterValidator(_step_url)] | None = None
    """An absolute URL instead of a path."""
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[
        Annotated[str, AfterValidator(_header_name)], Annotated[str, AfterValidator(_header_value)]
    ] = field(default_factory=dict)
    form: dict[str, str] | None = None
    json: Any = None
    files: dict[str, str] = field(default_factory=dict)
    """Field name -> path of a file to upload (multipart)."""
    submit_form: SubmitForm | None = None
    follow_redirects: bool = False
    """Follow redirects (at most 20). Leaving the base URL's origin drops Authorization, Cookie and every
    header that carries a credential; a 307/308 that would resend a body to another origin fails the step."""
    allow_other_host: bool = False
    """Let ``submit_form`` send the form to another origin than the base URL's (a single sign-on page)."""
    expect: Expect = field(default_factory=Expect)
    capture: dict[str, Capture] = field(default_factory=dict)
    retry: Retry | None = None
    """Poll until the expectations hold (for asynchronous jobs), at most ``attempts`` times."""
    when: Annotated[str, AfterValidator(_condition)] | None = None
    """Run only if this holds: "{name}" (captured and not empty), "{name} == value", "{name} != value"."""


@dataclass(frozen=True, kw_only=True)
class Flow:
    __pydantic_config__ = SETTINGS_CONFIG

    steps: list[Step] = field(default_factory=list)
    use: list[str] = field(default_factory=list)
    """Flows to run first, in the same session (a login written once)."""
    finally_: Annotated[list[Step], Field(alias="finally")] = field(default_factory=list)
    """Steps that always run, also after a failure: clean up what the flow created."""
