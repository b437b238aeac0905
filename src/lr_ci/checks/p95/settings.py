"""``[p95]`` in lr-ci.toml: the routes to load, how hard and how long, and the gate's thresholds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from lr_ci.checks.p95.stats import Gate
from lr_ci.config import SETTINGS_CONFIG


@dataclass(frozen=True, kw_only=True)
class Route:
    __pydantic_config__ = SETTINGS_CONFIG

    path: str
    name: str | None = None
    """The route's name in reports (default: METHOD path)."""
    method: str = "GET"
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    """May use {name} values captured by the login flow, e.g. Authorization = "Bearer {api_token}"."""
    weight: int = 1
    budget_ms: float | None = None
    """This route's absolute p95 budget (default: [p95] budget_ms)."""

    @property
    def label(self) -> str:
        return self.name or f"{self.method.upper()} {self.path}"


@dataclass(frozen=True, kw_only=True)
class P95Settings:
    __pydantic_config__ = SETTINGS_CONFIG

    mode: Literal["fail", "warn"] = "fail"
    """warn: report regressions without failing the check."""
    baseline_url: str | None = None
    candidate_url: str | None = None
    routes: list[Route] = field(default_factory=list)
    """Core routes (default: GET /)."""
    locustfile: str | None = None
    """Your own locustfile instead of routes: its request names are the routes (budgets match by name)."""
    login_flow: str | None = None
    """A [smoke] flow run first against each side; its cookies and captured values are reused."""
    budget_ms: float = Gate.budget_ms
    max_ratio: float = Gate.max_ratio
    """A route fails when its p95 grows by more than this factor (and the rest of the rule holds)."""
    min_increase_ms: float = Gate.min_increase_ms
    """...and by at least this much: a 2 ms route going to 3 ms is noise, not a regression."""
    alpha: float = Gate.alpha
    """Family-wise false-alarm level of the bootstrap test, Holm-corrected across routes."""
    max_error_rate: float = Gate.max_error_rate
    rate: float = 60.0
    """Requests per second sent to the side being measured."""
    users: int = 12
    rounds: int = 5
    """Measured rounds per side, alternating between the sides so drift hits both equally."""
    round_seconds: float = 6.0
    warmup_seconds: float = 4.0
    """Load sent to each side before measuring, then discarded (caches, connection pools, JIT)."""
    min_samples: int = Gate.min_samples
    """Per route and side: with fewer, fewer than 20 requests lie above the p95 and it is not decidable."""
    confirm: bool = True
    """Re-measure routes that fail once more, and fail only if the second measurement agrees."""
    timeout_s: float = 10.0
    seed: int | None = None
