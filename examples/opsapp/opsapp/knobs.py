"""Environment variables that configure the app, and make it misbehave for tests, benchmarks and the demo.

The misbehaviours (:data:`RUNTIME`) can also be changed while the app runs, through ``POST /admin/knobs``
(see :mod:`opsapp.app`): an uptime monitor watches the same process go down and come back.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from opsapp import __version__


def _float(name: str, default: float) -> float:
    value = os.environ.get(name, "")
    return float(value) if value else default


@dataclass(frozen=True)
class Knobs:
    version: str = __version__
    username: str = "ops"
    password: str = "ops-demo-password"
    api_token: str = "opsapp-demo-token"
    latency_ms: float = 0.0
    """Added to every response."""
    jitter_ms: float = 0.0
    """Uniform jitter around the added latency (±)."""
    slow_route_ms: float = 0.0
    """Added to /api/invoices only: a regression in one core route."""
    error_rate: float = 0.0
    """Fraction of API requests answered 500."""
    broken_login: bool = False
    """POST /login fails with 500, as after a bad deploy."""
    db_down: bool = False
    """Every database access fails: /healthz 503 (``database: down``), the API 503."""
    queue_down: bool = False
    """The report worker stops taking jobs: reports stay ``running``, /healthz 503 (``queue: down``)."""
    slow_start_s: float = 0.0
    """Seconds the app takes to start serving."""
    report_seconds: float = 0.3
    """How long a report job takes."""
    secure_cookies: bool = False
    """Mark cookies Secure (also when the request came over HTTPS)."""
    seed: int | None = None
    admin_token: str = ""
    """Enables ``/admin/knobs`` (loopback clients, ``Authorization: Bearer <token>``); empty: no admin."""
    database: str = ""
    """The SQLite file; empty: a temporary one. A file outlives a restart of the app on the same port."""

    @classmethod
    def from_environment(cls) -> Knobs:
        env = os.environ
        seed = env.get("OPSAPP_SEED", "")
        return cls(
            version=env.get("OPSAPP_VERSION", __version__),
            username=env.get("OPSAPP_USER", cls.username),
            password=env.get("OPSAPP_PASSWORD", cls.password),
            api_token=env.get("OPSAPP_API_TOKEN", cls.api_token),
            latency_ms=_float("OPSAPP_LATENCY_MS", 0.0),
            jitter_ms=_float("OPSAPP_JITTER_MS", 0.0),
            slow_route_ms=_float("OPSAPP_SLOW_ROUTE_MS", 0.0),
            error_rate=_float("OPSAPP_ERROR_RATE", 0.0),
            broken_login=env.get("OPSAPP_BROKEN_LOGIN", "") == "1",
            db_down=env.get("OPSAPP_DB_DOWN", "") == "1",
            queue_down=env.get("OPSAPP_QUEUE_DOWN", "") == "1",
            slow_start_s=_float("OPSAPP_SLOW_START_S", 0.0),
            report_seconds=_float("OPSAPP_REPORT_SECONDS", 0.3),
            secure_cookies=env.get("OPSAPP_SECURE_COOKIES", "") == "1",
            seed=int(seed) if seed else None,
            admin_token=env.get("OPSAPP_ADMIN_TOKEN", ""),
            database=env.get("OPSAPP_DATABASE", ""),
        )


RUNTIME = {
    "latency_ms": float,
    "jitter_ms": float,
    "slow_route_ms": float,
    "error_rate": float,
    "broken_login": bool,
    "db_down": bool,
    "queue_down": bool,
}
"""The knobs ``POST /admin/knobs`` may change while the app runs, and the JSON type each takes."""
