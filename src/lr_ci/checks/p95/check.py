"""``lr-ci p95``: measure, decide, confirm, report. The I/O around :mod:`stats` and :mod:`load`."""

from __future__ import annotations

import datetime as dt
import math
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from pydantic import Field
from typing_extensions import TypedDict

from lr_ci._json_files import read_shaped, write_json
from lr_ci.checks.p95 import load
from lr_ci.checks.p95.settings import MAX_ROUNDS, P95Settings, Route
from lr_ci.checks.p95.stats import Gate, Histogram, RouteVerdict, Side, absolute, decide, p95
from lr_ci.errors import LrCiError
from lr_ci.report import Case, Finding, Location, Report, Severity

if TYPE_CHECKING:
    from lr_ci.checks.smoke.settings import SmokeSettings
    from lr_ci.redact import Redactor

BASELINE_SCHEMA = "lr-ci.p95-baseline/1"
USERS_HEADROOM = 1.5
"""A user waits for each response, so it sends at most 1/latency requests per second: the rate needs at
least rate x p95 latency users, and this much more so that the slow tail does not hold the rate back."""
# Below this share of the requested rate, the target or the load generator could not keep up.
MIN_ACHIEVED_SHARE = 0.9
RULES = {
    "regression": ("p95-regression", "p95 latency regressed against the baseline"),
    "over-budget": ("p95-budget", "p95 latency is over its budget"),
    "errors": ("p95-errors", "too many requests failed under load"),
    "inconclusive": (
        "p95-inconclusive",
        "the measurement cannot decide (too few samples, or load not sustained)",
    ),
}


MAX_BUCKET_COUNT = 1_000_000_000
"""Requests in one histogram bucket of a stored baseline: more is not a file lr-ci wrote."""


BucketIndex = Annotated[str, Field(pattern=r"^[0-9]{1,4}$")]
"""A histogram bucket (0.5% wide from 0.05 ms): 4 digits reach beyond 10^20 ms."""
BucketCount = Annotated[int, Field(ge=0, le=MAX_BUCKET_COUNT)]


class BaselineRoute(TypedDict):
    """One route of a stored baseline: what ``--save-baseline`` writes, checked field by field on read."""

    requests: Annotated[int, Field(ge=0)]
    errors: Annotated[int, Field(ge=0)]
    rounds: Annotated[
        list[
            dict[
                Annotated[str, Field(pattern=r"^[0-9]{1,4}$")],
                Annotated[int, Field(ge=0, le=MAX_BUCKET_COUNT)],
            ]
        ],
        Field(min_length=1, max_length=MAX_ROUNDS),
    ]
    """Per round, histogram bucket index (see :func:`~lr_ci.checks.p95.stats.bucket_of`) -> requests."""


class BaselineDocument(TypedDict):
    schema: str
    created_at: str
    url: str
    routes: dict[str, BaselineRoute]


@dataclass(frozen=True, kw_only=True)
class Request:
    """What the command line asks beyond ``[p95]`` (``--baseline``, ``--candidate``, ``--rate``, ``--rounds``
    and ``--round-seconds`` replace settings instead, in :meth:`lr_ci._run.RunContext.settings`)."""

    baseline_file: Path | None = None
    """Compare the candidate with this stored baseline instead of a baseline deployment."""
    save_baseline: Path | None = None
    """Measure the candidate and store it here."""
    workers: int = 0
    """Local locust worker processes to spread the load over (distributed mode)."""
    master: bool = False
    """Be the master of workers started elsewhere (``--expect-workers`` of them, on ``master_port``)."""
    expect_workers: int = 1
    master_port: int = 5557
    worker_command: tuple[str, ...] = ()
    """How to start one local worker (``--master-port PORT`` is appended)."""
    master_bind: str = "*"
    """With ``master``: the address the master listens on (local workers: always 127.0.0.1)."""
    join: tuple[str, int] | None = None
    """``--worker``: the (host, port) of the master to join and serve until it quits."""


Login = Callable[[str], tuple[dict[str, str], dict[str, str]]]
"""``login(url)``: the cookies and captured values the login flow left on that side."""
Measure = Callable[
    [Mapping[str, load.Target], load.Plan, int | None, Callable[[int], None] | None], load.Measurement
]
"""Sends the plan's load to the targets: here, or spread over locust workers."""


def login_with(smoke: SmokeSettings, flow: str, redactor: Redactor) -> Login:
    """``login(url)`` for each side: the ``[smoke]`` flow ``flow`` run against it, its cookies and captured
    values kept; a flow that fails is exit 2 naming the step."""
    import time

    from lr_ci import _http
    from lr_ci.flows.runner import RunOptions, run_flow

    if flow not in smoke.flows:
        raise LrCiError(f"[p95] login_flow {flow!r}: no such flow in [smoke]")

    def login(url: str) -> tuple[dict[str, str], dict[str, str]]:
        options = RunOptions(
            base_url=url,
            client=_http.ClientOptions(timeout_s=smoke.timeout_s),
            deadline=time.monotonic() + smoke.run_timeout_s,
            on_secret=redactor.add_credential,
            # Response text is masked before it is cut into a message, as in `lr-ci smoke`.
            scrub=redactor.scrub_text,
            reach=lambda: redactor.reach,
        )
        result = run_flow(smoke, flow, options)
        if not result.passed:
            failed = next(s for s in result.steps if s.status in ("fail", "error"))
            raise LrCiError(
                f"login flow {flow!r} failed on {public_url(url)}: step {failed.name}: {failed.message}"
            )
        return result.cookies, result.values

    return login


def _routes_or_homepage(settings: P95Settings) -> P95Settings:
    """Without routes and without a locustfile, the homepage is the route measured."""
    if settings.routes or settings.locustfile:
        return settings
    return replace(settings, routes=[Route(path="/", name="homepage")])


def _url(value: str | None, what: str) -> str:
    if not value:
        raise LrCiError(
            f"no {what}: pass --{what.replace(' ', '-')} or set {what.replace(' ', '_')} in [p95]"
        )
    if not value.startswith(("http://", "https://")):
        raise LrCiError(
            f"--{what.replace(' ', '-')} {public_url(value)!r}: expected an http:// or https:// URL"
        )
    try:
        from urllib.parse import urlsplit

        parts = urlsplit(value)
        _ = parts.port
    except ValueError as exc:
        raise LrCiError(f"--{what.replace(' ', '-')} {public_url(value)!r}: not a valid URL: {exc}") from None
    if not parts.hostname:
        raise LrCiError(f"--{what.replace(' ', '-')} {public_url(value)!r}: the URL has no host")
    return value.rstrip("/")


def _check_file(path: Path, option: str, *, must_exist: bool) -> None:
    """A baseline path is a regular file (or, to be written, absent in a folder that exists), said before
    any load is sent: opening a FIFO waits for ever for its other end, and a folder or a missing parent
    found only when the baseline is written wastes the whole measurement."""
    import stat

    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        if must_exist:
            return  # read_shaped says so, as for every document
        if not path.parent.is_dir():
            raise LrCiError(f"{option} {path}: the folder {path.parent} does not exist") from None
        return
    except OSError as exc:
        raise LrCiError(f"{option} {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(mode):
        raise LrCiError(f"{option} {path}: not a regular file")


def _gate(settings: P95Settings) -> Gate:
    return Gate(
        max_ratio=settings.max_ratio,
        min_increase_ms=settings.min_increase_ms,
        alpha=settings.alpha,
        budget_ms=settings.budget_ms,
        max_error_rate=settings.max_error_rate,
        min_samples=settings.min_samples,
    )


def read_baseline_file(path: Path) -> dict[str, list[Histogram]]:
    """The stored rounds per route; a wrong type or a missing field anywhere is exit 2 naming it."""
    document = read_shaped(path, "p95 baseline", BaselineDocument, BASELINE_SCHEMA)
    return {
        route: [Histogram.from_json(r) for r in data["rounds"]] for route, data in document["routes"].items()
    }


def public_url(url: str) -> str:
    """``url`` as it may be written down (baseline, report, message): no userinfo, no query, no fragment.

    A deployment URL may carry a credential (``https://user:pass@host``, ``?token=...``); the URL is
    written to files that are committed and to reports that are posted, so only scheme, host, port and
    path are kept.
    """
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "(an invalid URL)"
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{port}" if port is not None else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def url_credentials(url: str) -> list[str]:
    """The credentials a URL carries, to mask wherever they might appear: the password of its userinfo (or
    the user, when alone it is a token: ``https://TOKEN@host``), and query values long enough to be tokens
    (masking ``?debug=true`` would mask every "true" of the report)."""
    from urllib.parse import parse_qsl, unquote, urlsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    userinfo = parts.password or parts.username or ""
    found = [userinfo, unquote(userinfo)]  # as written, and as the server (and a message) sees it
    found += [value for _, value in parse_qsl(parts.query) if len(value) >= MIN_QUERY_TOKEN_LENGTH]
    return [value for value in found if value]


MIN_QUERY_TOKEN_LENGTH = 8


def write_baseline_file(path: Path, url: str, sides: dict[str, Side]) -> None:
    document = {
        "schema": BASELINE_SCHEMA,
        "created_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "url": public_url(url),
        "routes": {
            route: {
                "requests": side.count,
                "errors": side.errors,
                "rounds": [h.to_json() for h in side.histograms()],
            }
            for route, side in sides.items()
        },
    }
    write_json(path, document, "p95 baseline")


def run(
    request: Request,
    settings: P95Settings,
    login: Login | None = None,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Measure and decide. ``login(url)`` returns the (cookies, values) of the login flow, when configured."""

    settings = _routes_or_homepage(settings)
    candidate_url = _url(settings.candidate_url, "candidate url")
    if request.baseline_file is not None:
        _check_file(request.baseline_file, "--baseline-file", must_exist=True)
    if request.save_baseline is not None:
        _check_file(request.save_baseline, "--save-baseline", must_exist=False)
    stored = read_baseline_file(request.baseline_file) if request.baseline_file else None
    targets = {"candidate": _target(candidate_url, login)}
    if stored is None and request.save_baseline is None:
        targets = {
            "baseline": _target(_url(settings.baseline_url, "baseline url"), login),
            **targets,
        }
    plan = _plan(settings)
    measure = _driver(request)
    measurement = measure(targets, plan, settings.seed, progress)
    _something_measured(measurement, targets, settings)
    budgets = {r.label: r.budget_ms for r in settings.routes if r.budget_ms is not None}
    if request.save_baseline is not None:
        write_baseline_file(request.save_baseline, candidate_url, measurement.sides["candidate"])
        gate = _gate(settings)
        verdicts = [
            absolute(route, side, gate, budgets.get(route, gate.budget_ms))
            for route, side in measurement.sides["candidate"].items()
        ]
        # A baseline of a load that was not sustained is not a pass either.
        verdicts = _sustained(_explain_errors(verdicts, measurement), measurement, settings)
    else:
        baseline = stored if stored is not None else measurement.sides["baseline"]
        verdicts = decide(
            baseline, measurement.sides["candidate"], _gate(settings), budgets, seed=settings.seed or 0
        )
        verdicts = _sustained(_explain_errors(verdicts, measurement), measurement, settings)
        if settings.confirm and any(v.verdict == "regression" for v in verdicts):
            verdicts = _confirm(verdicts, targets, plan, settings, stored, budgets, measure)
    return _report(verdicts, measurement, settings)


def _plan(settings: P95Settings) -> load.Plan:
    return load.Plan(
        routes=settings.routes,
        rate=settings.rate,
        users=settings.max_in_flight if settings.arrival == "poisson" else settings.users,
        rounds=settings.rounds,
        round_seconds=settings.round_seconds,
        warmup_seconds=settings.warmup_seconds,
        timeout_s=settings.timeout_s,
        locustfile=settings.locustfile,
        locustfile_timeout_s=settings.locustfile_timeout_s,
        arrival=settings.arrival,
    )


def _driver(request: Request) -> Measure:
    """Local load, local workers (--workers N), or workers that join from elsewhere (--master)."""
    import secrets

    if request.workers <= 0 and not request.master:
        return load.measure
    workers = request.workers if request.workers > 0 else request.expect_workers
    local = request.workers > 0
    # Local workers: a fresh secret for this run, handed down in their environment, and a master that
    # listens on loopback only. A cluster: the secret its operator shares, and the bind address asked for.
    secret = secrets.token_urlsafe(32) if local else load.cluster_secret("--master")
    bind_host = load.LOCAL_BIND_HOST if local else request.master_bind

    def spawn(master_port: int) -> list[subprocess.Popen[bytes]]:
        import os

        command = [*request.worker_command, "--master-port", str(master_port)]
        environment = {**os.environ, load.CLUSTER_SECRET_ENV: secret}
        return [
            subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment)
            for _ in range(request.workers)
        ]

    def measure(
        targets: Mapping[str, load.Target],
        plan: load.Plan,
        seed: int | None,
        progress: Callable[[int], None] | None = None,
    ) -> load.Measurement:
        # Local workers get a fresh port each time: the last master's may not be free yet (confirmation).
        port = _free_port() if local else request.master_port
        return load.measure_distributed(
            targets,
            plan,
            workers,
            port,
            spawn if local else None,
            seed,
            progress,
            secret=secret,
            bind_host=bind_host,
        )

    return measure


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def worker(settings: P95Settings, master_host: str, master_port: int) -> Report:
    """``--worker``: serve a master until it quits."""
    plan = _plan(_routes_or_homepage(settings))
    load.run_worker(plan, master_host, master_port, settings.seed)
    return Report(check="p95", metrics={"role": "worker", "master": f"{master_host}:{master_port}"})


def _target(url: str, login: Login | None) -> load.Target:
    if login is None:
        return load.Target(url)
    cookies, values = login(url)
    return load.Target(url, cookies, values)


def _something_measured(
    measurement: load.Measurement, targets: Mapping[str, load.Target], settings: P95Settings
) -> None:
    """A side that got no request at all was not measured: exit 2, never an empty report that passes."""
    for side, routes in measurement.sides.items():
        if not any(route.count or route.errors for route in routes.values()):
            source = f"locustfile {settings.locustfile}" if settings.locustfile else "the routes"
            raise LrCiError(
                f"no request reached the {side} ({public_url(targets[side].url)}): {source} sent none "
                "in the measured rounds, so there is nothing to decide on"
            )


def _explain_errors(verdicts: list[RouteVerdict], measurement: load.Measurement) -> list[RouteVerdict]:
    for verdict in verdicts:
        first = measurement.first_errors.get("candidate", {}).get(verdict.route)
        if first and verdict.verdict in ("errors", "inconclusive"):
            verdict.reasons.append(f"first error: {first}")
    return verdicts


def _sustained(
    verdicts: list[RouteVerdict], measurement: load.Measurement, settings: P95Settings
) -> list[RouteVerdict]:
    """A side that answered under 90% of the rate asked makes every route inconclusive, saying why (too
    few users for the measured latency, when that is the cause)."""
    name, users = _user_setting(settings)
    needed = _users_needed(measurement, settings.rate)
    for side, achieved in measurement.achieved_rps.items():
        if achieved < MIN_ACHIEVED_SHARE * measurement.requested_rps:
            asked = measurement.requested_rps
            if users < needed.get(side, 0):
                cause = f"{name} = {users} is too few at its measured latency: set {name} >= {needed[side]}"
            else:
                cause = "it (or the load generator) cannot sustain the load; lower rate or add --workers"
            for verdict in verdicts:
                if verdict.verdict in ("pass", "regression"):
                    verdict.verdict = "inconclusive"
                verdict.reasons.append(
                    f"the {side} side answered {achieved:.1f} of the {asked:g} requests/s asked: {cause}"
                )
    return verdicts


def _user_setting(settings: P95Settings) -> tuple[str, int]:
    """The setting that caps requests in flight, and its value: users, or max_in_flight (poisson)."""
    if settings.arrival == "poisson":
        return "max_in_flight", settings.max_in_flight
    return "users", settings.users


def _confirm(
    verdicts: list[RouteVerdict],
    targets: Mapping[str, load.Target],
    plan: load.Plan,
    settings: P95Settings,
    stored: dict[str, list[Histogram]] | None,
    budgets: dict[str, float],
    measure: Measure,
) -> list[RouteVerdict]:
    """Re-measure the regressed routes once; a regression stands only if the second measurement agrees."""
    failing = {v.route for v in verdicts if v.verdict == "regression"}
    again_plan = replace(plan, routes=[r for r in plan.routes if r.label in failing])
    again = measure(targets, again_plan, None if settings.seed is None else settings.seed + 1, None)
    _something_measured(again, targets, settings)
    baseline = stored if stored is not None else again.sides["baseline"]
    second = {
        v.route: v
        for v in decide(
            baseline, again.sides["candidate"], _gate(settings), budgets, seed=(settings.seed or 0) + 1
        )
    }
    for verdict in verdicts:
        if verdict.route not in failing:
            continue
        # A locustfile picks its own requests: a rare one may not come up again.
        redo = second.get(verdict.route)
        ratio = math.nan if redo is None or redo.ratio is None else redo.ratio
        if redo is None or redo.verdict != "regression":
            verdict.verdict = "pass"
            verdict.reasons = [f"not confirmed: re-measured ratio x{ratio:.2f}"]
        else:
            verdict.reasons.append(f"confirmed on re-measurement (x{ratio:.2f})")
    return verdicts


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None or math.isnan(value) else round(value, digits)


def _numbers(v: RouteVerdict) -> str:
    """The row of the PR comment: p95 on each side, the ratio and its interval, samples, errors."""
    base = f"{v.baseline_p95:.1f}" if v.baseline_p95 is not None and not math.isnan(v.baseline_p95) else "–"
    cand = f"{v.candidate_p95:.1f}" if not math.isnan(v.candidate_p95) else "–"
    ratio = (
        f"x{v.ratio:.2f} [{v.ratio_low:.2f}–{v.ratio_high:.2f}]"
        if v.ratio and v.ratio_low and v.ratio_high
        else "–"
    )
    return (
        f"p95 {base} → {cand} ms, {ratio}, n={v.baseline_samples}/{v.candidate_samples}, "
        f"errors {v.baseline_error_rate:.1%}/{v.candidate_error_rate:.1%}"
    )


def _round_p95s(measurement: load.Measurement, route: str) -> dict[str, list[float | None]]:
    """Each round's own p95, per side: shows drift, and what a one-run comparison would have seen."""
    return {
        side: [_round(p95(r)) for r in routes[route].rounds]
        for side, routes in measurement.sides.items()
        if route in routes
    }


def _report(verdicts: list[RouteVerdict], measurement: load.Measurement, settings: P95Settings) -> Report:
    report = Report(
        check="p95",
        fail_at=Severity.HIGH if settings.mode == "fail" else None,
        rules={rule: text for rule, text in RULES.values()},
    )
    routes = {}
    for v in verdicts:
        routes[v.route] = {
            "verdict": v.verdict,
            "baseline_p95_ms": _round(v.baseline_p95),
            "candidate_p95_ms": _round(v.candidate_p95),
            "ratio": _round(v.ratio, 3),
            "ratio_interval": [_round(v.ratio_low, 3), _round(v.ratio_high, 3)] if v.ratio_low else None,
            "p_holm": _round(v.p_holm, 4),
            "samples": {"baseline": v.baseline_samples, "candidate": v.candidate_samples},
            "error_rate": {
                "baseline": round(v.baseline_error_rate, 4),
                "candidate": round(v.candidate_error_rate, 4),
            },
            "why": "; ".join(v.reasons),
            "round_p95_ms": _round_p95s(measurement, v.route),
        }
        message = "; ".join(v.reasons) or "within the gate"
        report.cases.append(
            Case(
                name=v.route,
                status="pass" if not v.failed else "fail",
                message=f"{v.verdict}: {_numbers(v)}" + (f" — {message}" if v.reasons else ""),
            )
        )
        if v.failed:
            rule, _ = RULES[v.verdict]
            report.findings.append(
                Finding(
                    rule=rule,
                    severity=Severity.HIGH,
                    message=f"{v.route}: {message}",
                    location=Location(url=public_url(settings.candidate_url or "")),
                )
            )
    if settings.mode == "warn":
        report.cases = [replace(case, status="pass") for case in report.cases]
    warnings = _users_warnings(measurement, settings)
    for warning in warnings:
        report.findings.append(Finding(rule="p95-users", severity=Severity.LOW, message=warning))
    if warnings:
        report.rules["p95-users"] = "too few users to send the requested rate at the measured latency"
    report.metrics = {
        "routes": routes,
        "requested_rps": measurement.requested_rps,
        "achieved_rps": {side: round(rps, 1) for side, rps in measurement.achieved_rps.items()},
        "duration_s": round(measurement.duration_s, 1),
        "mode": settings.mode,
        "arrival": settings.arrival,
        "users": _user_setting(settings)[1],
        "users_needed": _users_needed(measurement, settings.rate),
        "arrivals": {
            side: None if spread is None else spread.to_json()
            for side, spread in measurement.arrivals.items()
        },
    }
    return report


def _users_needed(measurement: load.Measurement, rate: float) -> dict[str, int]:
    """Per side: the users the rate needs at its measured latency (rate x slowest route's p95 x headroom)."""
    needed = {}
    for side, routes in measurement.sides.items():
        latencies = [p95(route.samples) for route in routes.values() if route.count]
        if latencies:
            needed[side] = max(1, math.ceil(rate * max(latencies) / 1000.0 * USERS_HEADROOM))
    return needed


def _users_warnings(measurement: load.Measurement, settings: P95Settings) -> list[str]:
    """A clear warning per side whose latency the configured users cannot carry at the requested rate."""
    warnings = []
    name, users = _user_setting(settings)
    for side, needed in _users_needed(measurement, settings.rate).items():
        if users < needed:
            warnings.append(
                f"{name} = {users} is too few for rate = {settings.rate:g} at the {side}'s measured "
                f"latency: each user waits for its response, so set {name} >= {needed} in [p95] "
                f"(rate x p95 latency x {USERS_HEADROOM:g})"
            )
    return warnings
