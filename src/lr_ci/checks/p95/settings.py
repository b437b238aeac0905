"""``[p95]`` in lr-ci.toml: the routes to load, how hard and how long, and the gate's thresholds.

Every number is strictly typed and bounded (``true`` is not a number, ``"3"`` is not 3, NaN and infinity
are not durations): a value out of range is exit 2 at file:line rather than a run that never ends, never
loads, or reads a flag as a size. The bounds are named here once; the command-line options use them too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from lr_ci.checks.p95.stats import Gate
from lr_ci.config import SETTINGS_CONFIG

MAX_RATE = 100_000.0
"""Requests per second per side: far beyond what one lr-ci (or its workers) can send."""
MAX_USERS = 10_000
MAX_ROUNDS = 1_000
MAX_SECONDS = 3_600.0
"""A round, a warm-up or a locustfile import: an hour is a mistake, not a measurement."""
MAX_MS = 3_600_000.0
MAX_TIMEOUT_S = 600.0
MIN_ROUND_SECONDS = 0.5
"""The first 0.5 s of every round are dropped (users spawning): a round must be longer to measure."""


def _number(
    *, gt: float | None = None, ge: float | None = None, lt: float | None = None, le: float | None = None
) -> Any:
    """A float field: strict (no bool, no string), finite, within the bounds (pydantic's gt/ge/lt/le)."""
    return Field(strict=True, allow_inf_nan=False, gt=gt, ge=ge, lt=lt, le=le)


def _count(*, ge: int, le: int) -> Any:
    """An int field: strict (``true`` is not 1, ``2.0`` is not 2), within ``ge``..``le``."""
    return Field(strict=True, ge=ge, le=le)


def _path(path: str) -> str:
    if "://" in path.split("?", 1)[0] or path.startswith("//"):
        raise ValueError(
            f"{path!r} is a URL: a route is a path on the side being measured (both sides are measured "
            "with the same routes, and another host would get the login's credentials)"
        )
    return path


@dataclass(frozen=True, kw_only=True)
class Route:
    __pydantic_config__ = SETTINGS_CONFIG

    path: Annotated[str, Field(strict=True), AfterValidator(_path)]
    """A path on the side being measured (``/api/items``), never a URL of another host."""
    name: Annotated[str | None, Field(strict=True)] = None
    """The route's name in reports (default: METHOD path)."""
    method: Annotated[str, Field(strict=True)] = "GET"
    json: Any = None
    headers: Annotated[dict[str, str], Field(strict=True)] = field(default_factory=dict)
    """May use {name} values captured by the login flow, e.g. Authorization = "Bearer {api_token}"."""
    weight: Annotated[int, _count(ge=1, le=1_000_000)] = 1
    budget_ms: Annotated[float | None, _number(gt=0, le=MAX_MS)] = None
    """This route's absolute p95 budget (default: [p95] budget_ms)."""

    @property
    def label(self) -> str:
        return self.name or f"{self.method.upper()} {self.path}"


@dataclass(frozen=True, kw_only=True)
class P95Settings:
    __pydantic_config__ = SETTINGS_CONFIG

    mode: Literal["fail", "warn"] = "fail"
    """warn: report regressions without failing the check."""
    baseline_url: Annotated[str | None, Field(strict=True)] = None
    candidate_url: Annotated[str | None, Field(strict=True)] = None
    routes: list[Route] = field(default_factory=list)
    """Core routes (default: GET /)."""
    locustfile: Annotated[str | None, Field(strict=True)] = None
    """Your own locustfile instead of routes: its request names are the routes (budgets match by name)."""
    locustfile_timeout_s: Annotated[float, _number(gt=0, le=MAX_SECONDS)] = 30.0
    """How long importing the locustfile may take; longer is exit 2 (a file that never finishes importing)."""
    login_flow: Annotated[str | None, Field(strict=True)] = None
    """A [smoke] flow run first against each side; its cookies and captured values are reused."""
    budget_ms: Annotated[float, _number(gt=0, le=MAX_MS)] = Gate.budget_ms
    max_ratio: Annotated[float, _number(ge=1, le=1_000)] = Gate.max_ratio
    """A route fails when its p95 grows by more than this factor (and the rest of the rule holds)."""
    min_increase_ms: Annotated[float, _number(ge=0, le=MAX_MS)] = Gate.min_increase_ms
    """...and by at least this much: a 2 ms route going to 3 ms is noise, not a regression."""
    alpha: Annotated[float, _number(gt=0, lt=1)] = Gate.alpha
    """Family-wise false-alarm level of the bootstrap test, Holm-corrected across routes."""
    max_error_rate: Annotated[float, _number(ge=0, le=1)] = Gate.max_error_rate
    rate: Annotated[float, _number(gt=0, le=MAX_RATE)] = 60.0
    """Requests per second sent to the side being measured."""
    users: Annotated[int, _count(ge=1, le=MAX_USERS)] = 12
    """Concurrent users (arrival = "even"): each waits for its response, so users >= rate x p95 latency x
    1.5 (a warning in the report says when the measured latency needed more)."""
    arrival: Literal["even", "poisson"] = "even"
    """even: requests spread evenly at the rate (the tightest A/B intervals); poisson: an open model,
    exponential gaps, a request whether or not earlier ones returned (its p95 includes queueing)."""
    max_in_flight: Annotated[int, _count(ge=1, le=MAX_USERS)] = 100
    """arrival = "poisson": the most requests in flight at once (the users that carry the open arrivals)."""
    rounds: Annotated[int, _count(ge=1, le=MAX_ROUNDS)] = 5
    """Measured rounds per side, alternating between the sides so drift hits both equally."""
    round_seconds: Annotated[float, _number(gt=MIN_ROUND_SECONDS, le=MAX_SECONDS)] = 6.0
    warmup_seconds: Annotated[float, _number(ge=0, le=MAX_SECONDS)] = 4.0
    """Load sent to each side before measuring, then discarded (caches, connection pools, JIT)."""
    min_samples: Annotated[int, _count(ge=1, le=10_000_000)] = Gate.min_samples
    """Per route and side: with fewer, fewer than 20 requests lie above the p95 and it is not decidable."""
    confirm: Annotated[bool, Field(strict=True)] = True
    """Re-measure routes that fail once more, and fail only if the second measurement agrees."""
    timeout_s: Annotated[float, _number(gt=0, le=MAX_TIMEOUT_S)] = 10.0
    seed: Annotated[int | None, _count(ge=0, le=2**63)] = None
