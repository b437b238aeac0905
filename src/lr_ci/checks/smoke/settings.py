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
from typing import Annotated

from pydantic import AfterValidator, Field

from lr_ci.config import SETTINGS_CONFIG
from lr_ci.errors import FieldError
from lr_ci.flows.model import MAX_BODY_BYTES, Flow, HttpUrl, JsonPath, Seconds

MAX_BODIES_HELD = 64 * 1024 * 1024
"""concurrency x max_body_bytes at most: the bodies of the flows running at once, each held about three
times (bytes, text, masked text), stay well inside the 256 MiB a run may use."""


def _public_env(names: list[str]) -> list[str]:
    """Variable names whose values are shown; a name that says it holds a credential is refused."""
    from lr_ci.config import CREDENTIAL_NAME

    for name in names:
        if CREDENTIAL_NAME.search(name):
            raise ValueError(
                f"{name!r} names a credential (password, token, secret, key, ...): its value stays masked; "
                "public_env is for values such as user names"
            )
    return names


@dataclass(frozen=True, kw_only=True)
class SmokeSettings:
    __pydantic_config__ = SETTINGS_CONFIG

    base_url: HttpUrl | None = None
    """Where the deployment answers; ``--base-url`` overrides it."""
    timeout_s: Seconds = 10.0
    """Per request, in total: connecting, sending, the headers and the whole body (redirects included)."""
    run_timeout_s: Seconds = 120.0
    """The whole run; a request still running then is stopped, and steps still pending fail."""
    max_body_bytes: Annotated[int, Field(gt=0, le=1 << 30, strict=True)] = MAX_BODY_BYTES
    """Bytes of a response body read at most; the rest is not read (a step that needed it fails)."""
    concurrency: Annotated[int, Field(ge=1, le=256, strict=True)] = 4
    """Flows run at the same time (steps of one flow run in order)."""
    verify_tls: bool = True
    ca_bundle: str | None = None
    """A PEM file of CA certificates to trust (an internal CA), instead of the system's."""
    version_path: str = "/healthz"
    """Where ``--wait-for-version`` looks for the deployed version."""
    version_field: JsonPath = "$.version"
    """The JSON path of the version there (or the body must contain it)."""
    public_env: Annotated[list[str], AfterValidator(_public_env)] = field(default_factory=list)
    """Environment variables whose ``${NAME}`` values are not masked (user names): every other value read
    from the environment is. A name that says it holds a credential is a config error."""
    flows: dict[str, Flow] = field(default_factory=dict)

    def __post_init__(self) -> None:
        held = self.concurrency * self.max_body_bytes
        if held > MAX_BODIES_HELD:
            raise FieldError(
                "max_body_bytes",
                f"{self.concurrency} flows at once (concurrency) x {self.max_body_bytes} "
                f"bytes is over {MAX_BODIES_HELD >> 20} MiB of bodies held at once; lower one of them",
            )
