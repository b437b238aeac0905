"""``check --once`` and ``test-alert``: a plan in, one :class:`~lr_ci.report.Report` out.

Why it is shaped this way:

- **One round, resumed.** A scheduler's run starts a fresh process each time, so the state file carries
  everything: :meth:`Store.rebuild` first brings the rule to where the previous run left it (open
  incidents, recent failures), whatever it decided again is recorded (keys already in the outbox are
  ignored), then :func:`monitor.run_round` probes every monitor once. The same rule as ``run``.
- **Never two runs on one file.** :meth:`Store.open` holds an exclusive lock; a second run waits up to
  ``lock_wait`` seconds for it and then stops with exit 2 naming the holder, never sharing the file (two
  runs deciding the same outage would still produce one key, but a shared file is not worth the risk).
- **Owed alerts first, on every run.** A scheduler's runs are minutes apart already, so a ``--once`` run
  retries every notification still owed (the store's backoff is for ``run``, which loops every second):
  a target that was down for three runs gets the alert on the first run after it is back.
- **Exit 1 while an incident is open**, one ``uptime-down`` finding per open incident; a lost network
  (the control target failing) is one ``uptime-network-lost`` finding that does not fail the run, instead
  of every monitor paging.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lr_ci.report import Case, Finding, Location, Report, Severity, Table, fingerprint

if TYPE_CHECKING:
    from lr_ci.checks.uptime.monitor import RoundReport
    from lr_ci.checks.uptime.notify import Sent
    from lr_ci.checks.uptime.plan import Plan, PlannedMonitor
    from lr_ci.checks.uptime.state import Store

CHECK = "uptime"


@dataclass(frozen=True, kw_only=True)
class Request:
    """What the command line asks of an uptime command beyond ``[uptime]``."""

    once: bool = False
    """``check --once``: required for ``check`` (a bare ``check`` would look like it keeps monitoring)."""
    lock_wait_s: float = 30.0
    """How long ``check --once`` waits for another run holding the state file."""
    github_issues: bool = False
    """``--github-issues``: a GitHub issues target for GITHUB_REPOSITORY (the Actions mode)."""


LOCK_POLL_S = 0.1
RULES = {
    "uptime-down": "A monitor has an open incident: it failed as often as its rule allows within its window",
    "uptime-network-lost": "The control target failed too: the monitor lost its own network",
    "uptime-undelivered": "Notifications are owed: their targets did not accept them yet (retried)",
    "uptime-schedule-too-slow": "Runs too far apart for the rule to fire: the monitor would stay silent",
}


def iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def open_store(plan: Plan, lock_wait: float, sleep: Callable[[float], None] = time.sleep) -> Store:
    """The plan's state file, locked; waits up to ``lock_wait`` s for another run to let go of it."""
    from lr_ci.checks.uptime.state import StateError, StateLockedError, Store

    try:
        plan.state_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StateError(f"{plan.state_path}: cannot create its folder ({exc.strerror or exc})") from None
    deadline = time.monotonic() + max(0.0, lock_wait)
    while True:
        try:
            return Store.open(plan.state_path, plan.mask)
        except StateLockedError as exc:
            if time.monotonic() >= deadline:
                waited = f" (waited {lock_wait:g} s)" if lock_wait > 0 else ""
                raise StateLockedError(exc.message + waited) from None
        sleep(LOCK_POLL_S)


def check_request(request: Request) -> None:
    """The options' own problems, before the config is read (exit 2 naming the option)."""
    from lr_ci.errors import LrCiError

    if not request.once:
        raise LrCiError(
            "lr-ci uptime check needs --once (one round, for a scheduler); "
            "use `lr-ci uptime run` for a long-running monitor"
        )
    if not (0 <= request.lock_wait_s <= 86_400):  # also false for NaN
        raise LrCiError(
            f"--lock-wait {request.lock_wait_s!r}: expected a number of seconds from 0 to one day"
        )


def run_once(plan: Plan, request: Request, clock: Callable[[], float] = time.time) -> Report:
    """One round of every monitor against the state file, and the report of the contract."""
    from lr_ci.checks.uptime.monitor import run_round, send_deliveries

    check_request(request)
    with open_store(plan, request.lock_wait_s) as store:
        now = clock()
        evaluator = plan.resume(store, now)
        owed = send_deliveries(store, plan.notify, clock, limit=1000, ignore_backoff=True, mask=plan.mask)
        round_report = run_round(
            [m.monitor for m in plan.monitors],
            store,
            evaluator,
            clock(),
            notify=plan.notify,
            targets=plan.targets,
            control=plan.control.monitor if plan.control is not None else None,
            clock=clock,
            mask=plan.mask,
            retention=plan.retention_s,
        )
        round_report.delivered[:0] = owed.delivered
        round_report.failed[:0] = owed.failed
        incidents = {incident.monitor: incident for incident in store.open_incidents()}
        last_failure = {
            name: next((r for r in reversed(store.results(name, incident.since - 1e-3)) if not r.up), None)
            for name, incident in incidents.items()
        }
        too_slow = schedule_too_slow(plan, store)
    report = build_report(plan, round_report, incidents, last_failure)
    if too_slow:
        shown = "; ".join(f"{name}: runs {gap:.0f} s apart" for name, gap in sorted(too_slow.items()))
        report.findings.append(
            Finding(
                rule="uptime-schedule-too-slow",
                severity=Severity.MEDIUM,
                message=f"these monitors can never alert at this pace, their failures cannot fit in their "
                f"window ({shown[:400]}): run more often, or widen window / lower failures",
                data={"gaps_s": {name: round(gap, 1) for name, gap in too_slow.items()}},
                fingerprint=fingerprint("uptime-schedule-too-slow", None, ",".join(sorted(too_slow))),
            )
        )
    return report


def schedule_too_slow(plan: Plan, store: Store) -> dict[str, float]:
    """Monitors whose last two ``--once`` runs were too far apart for their rule to ever fire: a scheduler
    that runs every 5 minutes (or is late) with ``failures = 2`` in a 5 minute window would stay silent
    through every outage. Name -> the gap between the two runs, in seconds."""
    slow: dict[str, float] = {}
    for planned in plan.monitors:
        rule = planned.rule
        if rule.failures < 2:
            continue
        recent = store.results(planned.name, -math.inf)[-2:]
        if len(recent) == 2:
            gap = recent[1].started - recent[0].started
            if (rule.failures - 1) * gap >= rule.window:
                slow[planned.name] = gap
    return slow


def build_report(
    plan: Plan, round_report: RoundReport, incidents: dict[str, Any], last_failure: dict[str, Any]
) -> Report:
    """One case per monitor, one finding per open incident (and one for a lost network), the numbers."""
    report = Report(check=CHECK, rules=dict(RULES))
    network_lost = round_report.network_lost_since
    monitors: dict[str, Any] = {}
    rows: list[list[str]] = []
    for planned in plan.monitors:
        result = round_report.results.get(planned.name)
        incident = incidents.get(planned.name)
        entry = {
            "kind": planned.kind,
            "target": planned.target,
            "ok": None if result is None else result.ok,
            "latency_ms": None if result is None else round(result.elapsed_s * 1000, 1),
            "status": None if result is None else result.status,
            "error_class": None if result is None else result.error_class,
            "error": None if result is None else result.error,
            "incident_since": iso(incident.since) if incident is not None else None,
            **({"detail": dict(result.detail)} if result is not None and result.detail else {}),
        }
        monitors[planned.name] = entry
        report.cases.append(_case(planned, entry, incident, network_lost))
        state = "DOWN" if incident is not None else "up" if entry["ok"] else "failed"
        if network_lost is not None and not entry["ok"] and incident is None:
            state = "network lost"
        latency = "" if entry["latency_ms"] is None else f"{entry['latency_ms']:.0f} ms"
        rows.append([planned.name, planned.kind, state, latency, str(entry["error"] or "")])
        if incident is not None:
            report.findings.append(_down(planned, incident, last_failure.get(planned.name)))
    if network_lost is not None and plan.control is not None:
        message = (
            f"the control target {plan.control.target} has been failing since {iso(network_lost)}: the "
            "monitor lost its own network; failures of the monitors meanwhile are not counted as outages"
        )
        report.findings.append(
            Finding(
                rule="uptime-network-lost",
                severity=Severity.MEDIUM,
                message=message,
                location=Location(url=plan.control.target),
                fingerprint=fingerprint("uptime-network-lost", None, str(network_lost)),
            )
        )
    report.fail_at = Severity.HIGH  # an open incident fails the run; a lost network or an owed alert do not
    if round_report.undelivered:
        report.findings.append(
            Finding(
                rule="uptime-undelivered",
                severity=Severity.MEDIUM,
                message=f"{round_report.undelivered} notification(s) not delivered yet: "
                + "; ".join(sorted({reason for _key, _target, reason in round_report.failed}))[:500],
                fingerprint=fingerprint("uptime-undelivered", None, str(round_report.undelivered)),
            )
        )
    report.metrics = {
        "monitors": len(plan.monitors),
        "open_incidents": len(incidents),
        "delivered": len(round_report.delivered),
        "delivery_failures": len(round_report.failed),
        "undelivered": round_report.undelivered,
        "network_lost_since": iso(network_lost),
        "state_file": str(plan.state_path),
        "per_monitor": monitors,
        "deliveries": {
            "delivered": [{"key": k, "target": t} for k, t in round_report.delivered],
            "failed": [{"key": k, "target": t, "reason": r} for k, t, r in round_report.failed],
        },
    }
    if rows:
        report.tables.append(Table("Monitors", ["monitor", "kind", "state", "latency", "error"], rows))
    return report


def _case(planned: PlannedMonitor, entry: dict[str, Any], incident: Any, network_lost: float | None) -> Case:
    latency = (entry["latency_ms"] or 0.0) / 1000
    if incident is not None:
        message = f"down since {iso(incident.since)}"
        return Case(planned.name, "fail", latency, message, str(entry["error"] or ""))
    if entry["ok"]:
        return Case(planned.name, "pass", latency)
    if network_lost is not None:
        return Case(
            planned.name, "skip", latency, "the monitor lost its own network (control target failing)"
        )
    # One failed probe is not an outage yet: the rule decides (failures within the window).
    what = str(entry["error"] or "failed")
    return Case(planned.name, "pass", latency, f"probe failed, no incident (yet): {what}")


def _down(planned: PlannedMonitor, incident: Any, failure: Any) -> Finding:
    what = ""
    if failure is not None:
        parts = [f"status {failure.status}" if failure.status is not None else None, failure.error]
        what = ": " + ", ".join(p for p in parts if p) if any(parts) else ""
    owner = planned.monitor.owner
    message = (
        f"{planned.name} is down since {iso(incident.since)}{what}"
        + (f". Owner: {owner}" if owner else "")
        + f" (incident {incident.id})"
    )
    return Finding(
        rule="uptime-down",
        severity=Severity.HIGH,
        message=message,
        location=Location(url=planned.target),
        data={"monitor": planned.name, "incident": incident.id, "since": iso(incident.since), "owner": owner},
        fingerprint=fingerprint("uptime-down", None, incident.id),
    )


def send_test_alert(plan: Plan, clock: Callable[[], float] = time.time) -> Report:
    """A test notification to every configured target, concurrently: one case per target."""
    from lr_ci.checks.uptime.state import Delivery
    from lr_ci.errors import LrCiError

    if not plan.targets:
        raise LrCiError("no notification target is configured: add [[uptime.notify]] to lr-ci.toml")
    at = clock()
    key = f"test-{int(at * 1000)}"
    body = {
        "key": key,
        "kind": "test",
        "monitor": "lr-ci uptime test-alert",
        "message": "A test notification from lr-ci uptime test-alert: the alert path works.",
        "at": at,
        "since": at,
    }

    def send(target: str) -> Sent:
        from lr_ci.checks.uptime.monitor import attempt

        return attempt(plan.notify, Delivery(key, target, "test", key, {**body, "target": target}, 0))

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=min(8, len(plan.targets)), thread_name_prefix="lr-ci-notify") as pool:
        outcomes = list(pool.map(send, plan.targets))
    report = Report(check=CHECK)
    delivered = 0
    for target, outcome in zip(plan.targets, outcomes, strict=True):
        if outcome.delivered:
            delivered += 1
            report.cases.append(Case(target, "pass", time.monotonic() - started, "delivered"))
        else:
            reason = plan.mask(outcome.reason or "not delivered")
            report.cases.append(Case(target, "fail", time.monotonic() - started, reason))
    report.metrics = {
        "targets": len(plan.targets),
        "delivered": delivered,
        "failed": len(plan.targets) - delivered,
        "key": key,
    }
    return report
