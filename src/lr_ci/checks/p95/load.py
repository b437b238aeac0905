"""Sending the load with locust, in this process, and collecting every raw response time.

Locust is imported here and nowhere else: it monkey-patches the standard library with gevent on import,
which must not reach the other checks (a pre-commit hook never pays for it either). Times come from
locust's ``request`` event, not its stored percentiles: those round to 10 ms between 100 and 999 ms and
read one rank high.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lr_ci.checks.p95.settings import Route
from lr_ci.checks.p95.stats import Side

# Samples of the first instant of a round are dropped too: users are spawning and connecting.
SETTLE_SECONDS = 0.5


@dataclass(frozen=True)
class Target:
    """One side: where it answers, and what its login left us (cookies, captured values)."""

    url: str
    cookies: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    routes: Sequence[Route]
    rate: float
    users: int
    rounds: int
    round_seconds: float
    warmup_seconds: float
    timeout_s: float


@dataclass
class Measurement:
    sides: dict[str, dict[str, Side]]
    """side -> route label -> raw times per round."""
    first_errors: dict[str, dict[str, str]]
    """side -> route label -> the first error seen, to say why requests failed."""
    achieved_rps: dict[str, float]
    requested_rps: float
    duration_s: float


def _fill(template: str, values: Mapping[str, str]) -> str:
    for name, value in values.items():
        template = template.replace("{" + name + "}", value)
    return template


def _user_class(plan: Plan, target: Target, rng: random.Random) -> Any:
    from locust import HttpUser, constant_throughput, task

    routes = list(plan.routes)
    weights = [max(1, route.weight) for route in routes]
    per_user = plan.rate / plan.users

    class RouteUser(HttpUser):
        host = target.url
        wait_time = constant_throughput(per_user)

        def on_start(self) -> None:
            self.client.cookies.update(dict(target.cookies))

        @task
        def request(self) -> None:
            route = rng.choices(routes, weights)[0]
            headers = {k: _fill(v, target.values) for k, v in route.headers.items()}
            self.client.request(
                route.method.upper(),
                _fill(route.path, target.values),
                name=route.label,
                headers=headers,
                json=route.json,
                timeout=plan.timeout_s,
            )

    return RouteUser


class _Collector:
    def __init__(self) -> None:
        self.accepting_after = float("inf")
        self.times: dict[str, list[float]] = {}
        self.errors: dict[str, int] = {}
        self.first_error: dict[str, str] = {}

    def open(self, settle: float) -> None:
        self.times, self.errors = {}, {}
        self.accepting_after = time.time() + settle

    def on_request(
        self,
        request_type: str,
        name: str,
        response_time: float,
        response_length: int,
        exception: Exception | None = None,
        start_time: float | None = None,
        **_: Any,
    ) -> None:
        if (start_time or time.time()) < self.accepting_after:
            return
        if exception is not None:
            self.errors[name] = self.errors.get(name, 0) + 1
            self.first_error.setdefault(name, f"{type(exception).__name__}: {exception}"[:200])
        else:
            self.times.setdefault(name, []).append(float(response_time))


def _run_round(user_class: Any, plan: Plan, seconds: float, collector: _Collector) -> int:
    import logging

    import gevent
    from locust.env import Environment

    logging.getLogger("locust").setLevel(logging.ERROR)  # its progress chatter is not lr-ci's output
    environment = Environment(user_classes=[user_class], host=user_class.host, catch_exceptions=True)
    events: Any = environment.events
    events.request.add_listener(collector.on_request)
    runner = environment.create_local_runner()
    collector.open(SETTLE_SECONDS)
    runner.start(plan.users, spawn_rate=min(100, plan.users * 10))
    gevent.sleep(seconds)
    runner.quit()
    return sum(len(v) for v in collector.times.values()) + sum(collector.errors.values())


def measure(targets: Mapping[str, Target], plan: Plan, seed: int | None = None) -> Measurement:
    """Warm each side up, then alternate measured rounds between the sides (A B B A A B ...)."""
    rng = random.Random(seed)
    users = {side: _user_class(plan, target, rng) for side, target in targets.items()}
    sides: dict[str, dict[str, Side]] = {side: {r.label: Side([]) for r in plan.routes} for side in targets}
    requests = dict.fromkeys(targets, 0)
    first_errors: dict[str, dict[str, str]] = {side: {} for side in targets}
    measured_seconds = dict.fromkeys(targets, 0.0)
    started = time.monotonic()
    for side in targets:
        _run_round(users[side], plan, plan.warmup_seconds, _Collector())
    names = list(targets)
    for index in range(plan.rounds):
        order = names if index % 2 == 0 else list(reversed(names))
        for side in order:
            collector = _Collector()
            requests[side] += _run_round(users[side], plan, plan.round_seconds, collector)
            measured_seconds[side] += max(0.001, plan.round_seconds - SETTLE_SECONDS)
            for route in plan.routes:
                sides[side][route.label].rounds.append(collector.times.get(route.label, []))
                sides[side][route.label].errors += collector.errors.get(route.label, 0)
                if route.label in collector.first_error:
                    first_errors[side].setdefault(route.label, collector.first_error[route.label])
    achieved = {side: requests[side] / measured_seconds[side] for side in targets}
    return Measurement(sides, first_errors, achieved, plan.rate, time.monotonic() - started)
