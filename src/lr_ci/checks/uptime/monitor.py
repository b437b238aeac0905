"""One round of the monitor: probe, judge, record, deliver, compact. Orchestration only.

Both ways to run uptime (``check --once`` for schedulers, ``run`` for a long-running monitor) call
:func:`run_round`; they differ only in which monitors are due and how long they sleep. Why it is shaped so:

- **Probes are injected callables** (``Monitor.probe``): the CLI binds each monitor's settings to a
  function of ``probes.py``; tests bind real probes against real servers, or a scripted outcome. Likewise
  ``notify`` (a :func:`notify.deliver` bound to the targets): nothing here knows HTTP, SMTP or apprise.
- **Probes run concurrently, bounded**: a thread pool of at most ``max_workers``; each probe is bounded
  by its own timeout, so the round takes about the slowest probe, not the sum. A probe that raises (a bug)
  is recorded as a failure with error class ``internal``: one broken probe never stops the others.
- **The store is touched from this thread only** (an ``sqlite3`` connection belongs to its thread): the
  round's results, the evaluator's verdicts and the outbox rows of its events are committed in one
  transaction (:meth:`Store.record`) *before* anything is sent, so an alert decided is never lost.
- **Deliveries after the commit, at least once**: every due outbox row (this round's and earlier failed
  ones whose backoff passed) is sent concurrently, then marked delivered or failed here; a failure is
  retried by the store's backoff in later rounds, never dropped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from lr_ci.checks.uptime.notify import Sent
from lr_ci.checks.uptime.probes import ProbeResult
from lr_ci.checks.uptime.rule import Evaluator, Event, Verdicts
from lr_ci.checks.uptime.state import DEFAULT_RETENTION_S, Delivery, Store
from lr_ci.checks.uptime.state import ProbeResult as StoredResult

MAX_WORKERS = 32
"""Probes in flight at once in one round: enough for hundreds of monitors whose probes take a fraction of
their interval, few enough threads for a small machine."""


@dataclass(frozen=True)
class Monitor:
    """A monitor as the round sees it: its name, its probe bound to its settings, and its owner."""

    name: str
    probe: Callable[[], ProbeResult]
    owner: str | None = None


@dataclass
class RoundReport:
    """What one round did, for the report and the logs (all text already masked)."""

    results: dict[str, ProbeResult] = field(default_factory=dict)
    verdicts: Verdicts = field(default_factory=Verdicts)
    delivered: list[tuple[str, str]] = field(default_factory=list)
    """(key, target) of every outbox row delivered this round."""
    failed: list[tuple[str, str, str]] = field(default_factory=list)
    """(key, target, reason) of every attempt that failed this round (retried later)."""
    undelivered: int = 0
    network_lost_since: float | None = None
    """Set when the control target is failing: the monitor lost its own network, services are not paged."""
    open_incidents: list[str] = field(default_factory=list)
    """Names of the monitors with an open incident after the round."""


def run_probe(monitor: Monitor, mask: Callable[[str], str]) -> ProbeResult:
    """The monitor's probe; a probe that raises (a bug in lr-ci) is a recorded failure, never a dead loop."""
    started = time.monotonic()
    try:
        return monitor.probe()
    except Exception as exc:  # a probe's bug is a recorded failure, not a dead monitor
        text = mask(f"the probe failed inside lr-ci: {type(exc).__name__}: {exc}")[:200]
        return ProbeResult(False, time.monotonic() - started, None, "internal", text)


def run_round(
    monitors: Sequence[Monitor],
    store: Store,
    evaluator: Evaluator,
    now: float,
    *,
    notify: Callable[[Delivery], Sent],
    targets: Sequence[str],
    control: Monitor | None = None,
    clock: Callable[[], float] = time.time,
    mask: Callable[[str], str] = lambda text: text,
    max_workers: int = MAX_WORKERS,
    retention: float = DEFAULT_RETENTION_S,
    compact: bool = True,
) -> RoundReport:
    """Probe ``monitors`` (and ``control``) that start at ``now``, feed the evaluator, record the round,
    deliver the due outbox rows to ``targets`` through ``notify`` and compact the history.

    ``now`` is the round's start (the schedule's slot start): every result of the round is stamped with it,
    and finishes at ``now`` plus the probe's own elapsed time. ``clock`` is read only for what happens
    after the probes (when deliveries are due and marked), so a test drives a round with a fixed ``now``
    and real servers. Every monitor must be one of the evaluator's. ``compact`` folds old history: a
    long-running monitor with many rounds a second passes it only every few minutes (compaction scans).
    """
    report = RoundReport()
    everything = [*monitors, *([control] if control is not None else [])]
    if everything:
        workers = max(1, min(max_workers, len(everything)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lr-ci-probe") as pool:
            outcomes = list(pool.map(lambda m: run_probe(m, mask), everything))
        report.results = {m.name: result for m, result in zip(everything, outcomes, strict=True)}
    finished = [Finished(m.name, now, report.results[m.name]) for m in everything]
    settle(
        finished,
        store,
        evaluator,
        control=control.name if control is not None else None,
        owners={m.name: m.owner for m in monitors},
        targets=targets,
        report=report,
    )
    send_deliveries(store, notify, clock, report, mask=mask)
    if compact:
        store.compact(max([now, *(f.finished for f in finished)]), retention)
    report.undelivered = store.undelivered()
    return report


@dataclass(frozen=True)
class Finished:
    """A probe that has finished: the monitor, the start of its slot, and what it saw."""

    monitor: str
    started: float
    result: ProbeResult

    @property
    def finished(self) -> float:
        return self.started + self.result.elapsed_s


def settle(
    finished: Sequence[Finished],
    store: Store,
    evaluator: Evaluator,
    *,
    control: str | None,
    owners: Mapping[str, str | None],
    targets: Sequence[str],
    report: RoundReport | None = None,
    skipped: Mapping[str, int] | None = None,
) -> RoundReport:
    """Judge finished probes (the control's first, so the failures waiting for it are released), tick the
    evaluator at the latest finish, and record everything with the outbox rows of the events in one
    transaction. The one place results become decisions: a round (:func:`run_round`) and the long-running
    loop (``runner.serve``, whose probes of different slots finish at different times) both call it.
    """
    report = report if report is not None else RoundReport()
    for item in finished:
        report.results.setdefault(item.monitor, item.result)
    verdicts = Verdicts()
    stored: list[StoredResult] = []
    latest = max((item.finished for item in finished), default=None)
    ordered = sorted(finished, key=lambda item: (item.monitor != control, item.finished, item.started))
    for item in ordered:
        if item.monitor == control:
            verdicts.extend(evaluator.observe_control(item.started, item.finished, item.result.ok))
        else:
            verdicts.extend(evaluator.observe(item.monitor, item.started, item.finished, item.result.ok))
        stored.append(_stored(item.monitor, item.started, item.finished, item.result))
    if latest is not None:
        verdicts.extend(evaluator.tick(latest))
    report.verdicts.extend(verdicts)
    results = {item.monitor: item.result for item in finished}
    details = {event.key: _details(event, results, owners, store) for event in verdicts.events}
    store.record(
        now=latest if latest is not None else 0.0,
        results=stored,
        judged=verdicts.judged,
        events=verdicts.events,
        targets=targets,
        details=details,
        skipped=skipped,
    )
    if evaluator.control is not None:
        report.network_lost_since = evaluator.control.lost_since
    report.open_incidents = sorted(
        name for name, rule in evaluator.monitors.items() if rule.incident is not None
    )
    return report


def attempt(notify: Callable[[Delivery], Sent], delivery: Delivery) -> Sent:
    """``notify(delivery)``, which should never raise; if it does (a bug in a notifier), that is a failed
    attempt too, retried like any other: never a lost alert, never a dead monitor."""
    try:
        return notify(delivery)
    except Exception as exc:
        return Sent(False, f"the notifier failed inside lr-ci: {type(exc).__name__}")


def send_deliveries(
    store: Store,
    notify: Callable[[Delivery], Sent],
    clock: Callable[[], float] = time.time,
    report: RoundReport | None = None,
    *,
    max_workers: int = 8,
    limit: int = 100,
    ignore_backoff: bool = False,
    mask: Callable[[str], str] = lambda text: text,
) -> RoundReport:
    """Send every outbox row due at ``clock()`` (at most ``limit``), concurrently, and mark each delivered
    or failed in the store from this thread; the report's reasons are masked.

    ``ignore_backoff`` sends every undelivered row now: ``check --once`` runs minutes apart, so the store's
    backoff (seconds to minutes, for a monitor that runs all the time) would only delay a retry a run.
    """
    from lr_ci.checks.uptime.state import RETRY_CAP_S

    report = report if report is not None else RoundReport()
    due = store.due(clock() + (RETRY_CAP_S if ignore_backoff else 0.0), limit)
    if not due:
        return report
    with ThreadPoolExecutor(
        max_workers=max(1, min(max_workers, len(due))), thread_name_prefix="lr-ci-notify"
    ) as pool:
        sent = list(pool.map(lambda delivery: attempt(notify, delivery), due))
    for delivery, outcome in zip(due, sent, strict=True):
        if outcome.delivered:
            store.delivered(delivery.key, delivery.target, clock())
            report.delivered.append((delivery.key, delivery.target))
        else:
            reason = mask(outcome.reason or "not delivered")
            store.failed(delivery.key, delivery.target, clock(), reason)
            report.failed.append((delivery.key, delivery.target, reason))
    return report


def _stored(name: str, started: float, finished: float, result: ProbeResult) -> StoredResult:
    return StoredResult(
        name, started, finished, result.ok, None, result.status, result.error_class, result.error
    )


def _details(
    event: Event, results: Mapping[str, ProbeResult], owners: Mapping[str, str | None], store: Store
) -> dict[str, Any]:
    """What an alert says beyond the event: the owner and what failed (status, error, timing) — this
    round's result when it failed, else the latest stored failure of the monitor."""
    out: dict[str, Any] = {"owner": owners.get(event.monitor)}
    if event.kind == "recovered":
        return out
    result = results.get(event.monitor)
    if result is not None and not result.ok:
        out["failure"] = {
            "status": result.status,
            "error_class": result.error_class,
            "error": result.error,
            "latency_ms": round(result.elapsed_s * 1000, 1),
        }
        return out
    for stored in reversed(store.results(event.monitor, event.since - 1e-3)):
        if not stored.up:
            out["failure"] = {
                "status": stored.status,
                "error_class": stored.error_class,
                "error": stored.error,
                "latency_ms": round(stored.latency * 1000, 1),
            }
            break
    return out
