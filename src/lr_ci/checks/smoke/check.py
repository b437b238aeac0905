"""``lr-ci smoke``: wait for the new version if asked, run the flows, report one case per step."""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import httpx

from lr_ci import _http
from lr_ci.checks.smoke.settings import SmokeSettings
from lr_ci.errors import LrCiError, SettingError
from lr_ci.flows import _jsonpath
from lr_ci.flows.model import Expect, Flow, Step
from lr_ci.flows.runner import (
    EXCERPT_CHARS,
    PARSING,
    FlowOrderError,
    FlowResult,
    RunOptions,
    check_uses,
    flow_order,
    json_body,
    run_flows,
)
from lr_ci.flows.urls import check_http_url, display_url, userinfo_credentials
from lr_ci.redact import Redactor
from lr_ci.report import Case, Finding, Location, Report, Severity, fingerprint

WAIT_INTERVAL_S = 1.0
# With no flows configured, the deployment must at least answer on its homepage.
DEFAULT_FLOWS = {"homepage": Flow(steps=[Step(name="homepage", path="/", expect=Expect())])}


@dataclass(frozen=True, kw_only=True)
class Request:
    """What the command line asks beyond ``[smoke]`` (``--base-url``, ``--timeout``, ``--run-timeout`` and
    ``--insecure`` replace settings instead, in :meth:`lr_ci._run.RunContext.settings`)."""

    flows: tuple[str, ...] = ()
    """Run only these flows (default: every flow of ``[smoke]``)."""
    wait_for_version: str | None = None
    """First poll the version endpoint until it says this version."""
    wait_timeout_s: float = 300.0
    resolve: tuple[str, ...] = ()
    """``HOST:IP`` pairs: send HOST's requests to IP."""


def _prepare(
    request: Request, settings: SmokeSettings, redactor: Redactor | None = None
) -> tuple[SmokeSettings, list[str], RunOptions]:
    """The flows to run and how to send their requests; every problem here is exit 2."""
    base_url = _base_url(settings, redactor)
    if not settings.flows:
        settings = replace(settings, flows=DEFAULT_FLOWS)
    names = list(request.flows) or list(settings.flows)
    for name in names:
        try:
            flow_order(settings.flows, name)
        except ValueError as exc:
            raise LrCiError(f"[smoke] flow {name!r}: {exc}") from None
    verify: bool | ssl.SSLContext = settings.verify_tls
    if verify and settings.ca_bundle:
        verify = _http.ca_bundle(settings.ca_bundle)
    client = _http.ClientOptions(
        timeout_s=settings.timeout_s,
        verify=verify,
        resolve=_http.parse_resolve(request.resolve),
    )
    options = RunOptions(
        base_url=base_url,
        client=client,
        deadline=time.monotonic() + settings.run_timeout_s,
    )
    if redactor is not None:
        options = replace(options, scrub=redactor.scrub_text, reach=lambda: redactor.reach)
    return settings, names, options


def _base_url(settings: SmokeSettings, redactor: Redactor | None) -> str:
    base_url = settings.base_url
    if not base_url:
        raise LrCiError("no base URL: pass --base-url, or set base_url in [smoke]")
    if redactor is not None:
        # Before anything can print it: a password in the URL's userinfo, and the Basic token httpx sends.
        for credential in userinfo_credentials(base_url):
            redactor.add_credential(credential)
    try:
        # The table's URL was checked when it was read, and --base-url by the command: this one is a
        # settings object made in code.
        return check_http_url(base_url, "[smoke] base_url")
    except ValueError as exc:
        raise LrCiError(str(exc)) from None


def wait_for_version(
    settings: SmokeSettings, options: RunOptions, version: str, timeout_s: float
) -> str | None:
    """Poll the version endpoint until ``version`` answers; None when it did, else what was seen last.

    Each poll reads at most ``max_body_bytes`` and ends by its own deadline and the wait's, so a server
    that trickles or never ends its answer cannot hold the wait past ``timeout_s``.
    """
    url = options.base_url.rstrip("/") + "/" + settings.version_path.lstrip("/")
    shown = display_url(url)
    deadline = time.monotonic() + timeout_s
    last = "no answer yet"
    with _http.client(options.client) as client:
        while True:
            started = time.monotonic()
            per_request = min(options.client.timeout_s, max(0.1, deadline - started))
            try:
                with _http.deadline(started + per_request):
                    response = client.send(client.build_request("GET", url, timeout=per_request), stream=True)
                    _http.read_capped(response, settings.max_body_bytes)
                seen = _version_of(response, settings.version_field)
                if seen == version or (seen is None and version in response.text):
                    return None
                last = (
                    f"status {response.status_code}, version {_cut(options.scrub(seen))!r}"
                    if seen is not None
                    else (f"status {response.status_code}")
                )
            except httpx.HTTPError as exc:
                if isinstance(exc, httpx.TimeoutException):
                    last = f"timed out after {per_request:g} s"
                else:
                    last = options.scrub(_http.describe_error(exc, per_request))
            if time.monotonic() + WAIT_INTERVAL_S > deadline:
                return f"version {version} did not answer at {shown} within {timeout_s:g} s (last: {last})"
            time.sleep(WAIT_INTERVAL_S)


def _cut(text: str) -> str:
    """A value the server chose, short enough for a message (a 4 MiB version was 28 MB of report)."""
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "…"


def _version_of(response: httpx.Response, field: str) -> str | None:
    try:
        with PARSING:
            value = _jsonpath.get(json_body(response), field)
    except (ValueError, LookupError):
        return None
    return str(value)


def report(results: list[FlowResult], waited_s: float | None) -> Report:
    report = Report(check="smoke", fail_at=Severity.HIGH, rules={"smoke-step": "A smoke test step failed"})
    flows_metrics = {}
    for flow in results:
        steps = {}
        for step in flow.steps:
            report.cases.append(
                Case(
                    name=step.case_name,
                    status=step.status,  # type: ignore[arg-type]
                    duration_s=step.duration_s,
                    message=step.message,
                    details=f"{step.method} {step.url} -> {step.response_status}: {step.message}"
                    if step.url
                    else "",
                )
            )
            steps[step.name] = {
                "status": step.status,
                "ms": round(step.duration_s * 1000, 1),
                "http_status": step.response_status,
                "attempts": step.attempts,
            }
            if step.status in ("fail", "error"):
                report.findings.append(
                    Finding(
                        rule="smoke-step",
                        severity=Severity.HIGH,
                        message=f"flow {flow.name}, step {step.name}: {step.message}",
                        location=Location(url=step.url or None),
                        # The step is the finding's identity: its message carries timings, which
                        # would give the same broken step a new fingerprint on every run.
                        fingerprint=fingerprint("smoke-step", None, f"{flow.name}\0{step.name}"),
                    )
                )
        flows_metrics[flow.name] = {
            "passed": flow.passed,
            "duration_s": round(flow.duration_s, 3),
            "steps": steps,
        }
    report.metrics = {
        "flows": flows_metrics,
        "flows_passed": sum(f.passed for f in results),
        "flows_failed": sum(not f.passed for f in results),
        "requests": sum(s.attempts for f in results for s in f.steps),
    }
    if waited_s is not None:
        report.metrics["waited_for_version_s"] = round(waited_s, 2)
    return report


def run(
    request: Request,
    settings: SmokeSettings,
    on_secret: Callable[[str], None] | None = None,
    redactor: Redactor | None = None,
) -> Report:
    """Run the smoke check; ``redactor`` masks credentials in messages before they are built.

    A flow that cannot be run as configured is a :class:`~lr_ci.errors.SettingError` at its key (exit 2 at
    that line of lr-ci.toml): a ``use`` that cannot be followed or a flow with no steps, found before
    anything is sent, and a step that cannot be done as configured, found when the flows ran to the end
    (finally steps too).
    """
    _check_flows(settings)
    report, results = _run_flows(request, settings, on_secret, redactor)
    for flow in results:
        for step in flow.steps:
            if step.config_error:
                raise SettingError((*step.where, "submit_form"), step.message)
    return report


def _check_flows(settings: SmokeSettings) -> None:
    try:
        check_uses(settings.flows)
    except FlowOrderError as exc:
        # At the line of the ``use`` that cannot be followed, like every other config error.
        where = ("smoke", "flows", exc.flow, "use") if exc.flow is not None else ("smoke", "flows")
        raise SettingError(where, str(exc)) from None
    for name in settings.flows:
        chain = flow_order(settings.flows, name)
        if not any(settings.flows[f].steps or settings.flows[f].finally_ for f in chain):
            # It would pass having sent nothing: a smoke test that tests nothing is a mistake, not a pass.
            raise SettingError(
                ("smoke", "flows", name), f"flow {name!r} has no steps (nor does any flow it uses)"
            )


def _run_flows(
    request: Request,
    settings: SmokeSettings,
    on_secret: Callable[[str], None] | None,
    redactor: Redactor | None,
) -> tuple[Report, list[FlowResult]]:
    settings, names, options = _prepare(request, settings, redactor)
    if on_secret is not None:
        options = replace(options, on_secret=on_secret)
    waited = None
    if request.wait_for_version:
        started = time.monotonic()
        missing = wait_for_version(settings, options, request.wait_for_version, request.wait_timeout_s)
        waited = time.monotonic() - started
        if missing is not None:
            failed = report([], waited)
            failed.findings.append(
                Finding(
                    rule="smoke-version",
                    severity=Severity.HIGH,
                    message=missing,
                    location=Location(url=display_url(options.base_url)),
                )
            )
            failed.rules["smoke-version"] = "The expected version did not answer"
            return failed, []
        options = replace(options, deadline=time.monotonic() + settings.run_timeout_s)
    results = run_flows(settings, options, names)
    return report(results, waited), results
