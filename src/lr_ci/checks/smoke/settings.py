"""``[smoke]`` in lr-ci.toml: named flows of steps, each a request and what must hold of its response.

```toml
[smoke]
base_url = "https://ops.example.com"

[smoke.flows.login]
steps = [
  { name = "form", path = "/login", capture = { csrf = { css = "input[name=csrf_token]", attr = "value" } } },
  { name = "submit", method = "POST", path = "/login",
    form = { csrf_token = "{csrf}", username = "${OPS_USER}", password = "${OPS_PASSWORD}" },
    expect = { status = 303, redirect = "/dashboard", cookies = { opsapp_session = { http_only = true } } } },
]

[smoke.flows.approve-invoice]
use = ["login"]          # runs login first, in the same cookie jar
steps = [ ... ]
finally = [ ... ]        # always run, also after a failure (clean up test data)
```
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import Field

from lr_ci.config import SETTINGS_CONFIG


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

    status: int | list[int] | None = None
    """Expected status (or any of a list). Unset: any 2xx or 3xx."""
    body_contains: list[str] = field(default_factory=list)
    body_not_contains: list[str] = field(default_factory=list)
    json: dict[str, Any] = field(default_factory=dict)
    """JSON path ($.a.b[0]) -> the value it must equal."""
    json_matches: dict[str, str] = field(default_factory=dict)
    """JSON path -> a regular expression its value must match."""
    headers: dict[str, str] = field(default_factory=dict)
    """Header name -> a regular expression its value must match."""
    cookies: dict[str, CookieExpect] = field(default_factory=dict)
    """Cookie name -> how the response must set it."""
    redirect: str | None = None
    """Where the response redirects (its Location, resolved against the request URL; a path is enough)."""
    max_ms: float | None = None
    """Response-time budget for this step."""


@dataclass(frozen=True, kw_only=True)
class Capture:
    __pydantic_config__ = SETTINGS_CONFIG

    css: str | None = None
    """A CSS selector; with ``attr`` the attribute's value, else the element's text."""
    attr: str | None = None
    json: str | None = None
    """A JSON path into the response body."""
    header: str | None = None
    cookie: str | None = None
    regex: str | None = None
    """A regular expression on the body: its first group, else the whole match."""
    secret: bool | None = None
    """Mask the value in every output. Unset: cookies, and names like token, csrf, session, password, key."""


@dataclass(frozen=True, kw_only=True)
class Retry:
    __pydantic_config__ = SETTINGS_CONFIG

    attempts: int = 10
    interval_s: float = 0.5


@dataclass(frozen=True, kw_only=True)
class SubmitForm:
    """Submit the form of the page the previous step fetched (hidden fields, CSRF tokens included)."""

    __pydantic_config__ = SETTINGS_CONFIG

    selector: str | None = None
    """Which form: a CSS selector. Unset: the first form with a password field, else the first form."""
    fields: dict[str, str] = field(default_factory=dict)
    """Fields to fill in; the form's own values are kept for the others."""


@dataclass(frozen=True, kw_only=True)
class Step:
    __pydantic_config__ = SETTINGS_CONFIG

    name: str = ""
    method: str = "GET"
    path: str | None = None
    """Relative to the base URL."""
    url: str | None = None
    """An absolute URL instead of a path."""
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    form: dict[str, str] | None = None
    json: Any = None
    files: dict[str, str] = field(default_factory=dict)
    """Field name -> path of a file to upload (multipart)."""
    submit_form: SubmitForm | None = None
    follow_redirects: bool = False
    expect: Expect = field(default_factory=Expect)
    capture: dict[str, Capture] = field(default_factory=dict)
    retry: Retry | None = None
    """Poll until the expectations hold (for asynchronous jobs), at most ``attempts`` times."""
    when: str | None = None
    """Run only if this holds: "{name}" (captured and not empty), "{name} == value", "{name} != value"."""


@dataclass(frozen=True, kw_only=True)
class Flow:
    __pydantic_config__ = SETTINGS_CONFIG

    steps: list[Step] = field(default_factory=list)
    use: list[str] = field(default_factory=list)
    """Flows to run first, in the same session (a login written once)."""
    finally_: Annotated[list[Step], Field(alias="finally")] = field(default_factory=list)
    """Steps that always run, also after a failure: clean up what the flow created."""


@dataclass(frozen=True, kw_only=True)
class SmokeSettings:
    __pydantic_config__ = SETTINGS_CONFIG

    base_url: str | None = None
    """Where the deployment answers; ``--base-url`` overrides it."""
    timeout_s: float = 10.0
    """Per request."""
    run_timeout_s: float = 120.0
    """The whole run; steps still pending after it fail."""
    concurrency: int = 4
    """Flows run at the same time (steps of one flow run in order)."""
    verify_tls: bool = True
    ca_bundle: str | None = None
    """A PEM file of CA certificates to trust (an internal CA), instead of the system's."""
    version_path: str = "/healthz"
    """Where ``--wait-for-version`` looks for the deployed version."""
    version_field: str = "$.version"
    """The JSON path of the version there (or the body must contain it)."""
    flows: dict[str, Flow] = field(default_factory=dict)
