"""``lr-ci uptime run``: every monitor on its own fixed schedule until stopped. Orchestration only.

The same rule and the same store as ``check --once`` (both end in :func:`monitor.settle`); what differs is
time. Why the loop is shaped this way:

- **A probe starts every interval, whatever the others do.** Each monitor (and the control target) has a
  :class:`~lr_ci.checks.uptime.schedule.Schedule` with its own phase; the loop wakes at the earliest next
  slot and starts every probe that is due in a thread of its own, so a hanging target (bounded by its
  timeout) delays no other monitor and not its own next slot. A monitor never has two probes in flight:
  a probe that overruns its slot (its timeout is at most the interval, so only by the scheduling jitter)
  makes the next slot count as skipped.
- **One thread owns the store and the rule.** Probe threads and delivery threads only put what they
  finished on a queue; the loop judges and records it (an ``sqlite3`` connection and the
  :class:`~lr_ci.checks.uptime.rule.Evaluator` belong to one thread). Finished probes are settled as
  they arrive, so an alert is decided the moment its deciding probe returns, not at the next wake-up.
- **Deliveries never block probing.** Due outbox rows are sent from daemon threads (a notification
  target that hangs for its whole timeout delays nothing else); a row in flight is not handed out again;
  the loop marks it delivered or failed, and the store's backoff retries a failure in later rounds.
- **Stopping is prompt.** ``stop`` (set by SIGTERM/SIGINT in the CLI) is checked at least every
  :data:`MAX_SLEEP_S`; probes still in flight are abandoned (daemon threads: the process does not wait
  for their timeouts), their slots simply not recorded, exactly like a SIGKILL, which the store survives.
- **What was settled can be watched**: an optional :class:`Observer` (the Prometheus metrics,
  ``metrics.py``) is told, from this thread, what each settle decided; it must only update thread-safe
  values, never block.
- **History stays bounded**: :meth:`Store.compact` runs every :data:`COMPACT_EVERY_S`, not every round
  (it scans), and the clock is injected, so tests drive the loop without waiting.
"""

from __future__ import annotations

import heapq
import math
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from lr_ci.checks.uptime.monitor import Finished, RoundReport, attempt, run_probe, settle
from lr_ci.checks.uptime.notify import Sent
from lr_ci.checks.uptime.plan import Plan, PlannedMonitor
from lr_ci.checks.uptime.rule import Evaluator, Judged
from lr_ci.checks.uptime.schedule import Schedule, phase_for
from lr_ci.checks.uptime.state import Delivery, Store

MAX_SLEEP_S = 0.5
"""The longest the loop sleeps without looking at ``stop`` and the queue."""
COMPACT_EVERY_S = 300.0
DELIVERY_LIMIT = 100
"""Outbox rows handed out per look (the rest wait for the next one, a fraction of a second later)."""

Log = Callable[[str], None]


def _quiet(_line: str) -> None:
    pass


class Observer(Protocol):
    """Told by the loop's thread what it settled: at start, after each settle and after deliveries."""

    def settled(
        self,
        finished: Sequence[Finished],
        judged: Sequence[Judged],
        open_incidents: Sequence[str],
        undelivered: int,
    ) -> None: ...


@dataclass
class _Slots:
    """A monitor's schedule and where it stands on it."""

    planned: PlannedMonitor
    schedule: Schedule
    last_slot: int | None = None
    in_flight: bool = False
    skipped: int = 0


@dataclass
class ServeStats:
    """What a serve did, for tests and benchmarks: counts only."""

    probes: int = 0
    rounds: int = 0
    skipped: int = 0
    delivered: int = 0
    failed: int = 0
    events: list[str] = field(default_factory=list)
    """``kind monitor`` of every event decided, in order."""


def serve(
    plan: Plan,
    store: Store,
    *,
    stop: threading.Event,
    clock: Callable[[], float] = time.time,
    log: Log = _quiet,
    evaluator: Evaluator | None = None,
    observer: Observer | None = None,
) -> ServeStats:
    """Run ``plan`` until ``stop`` is set; returns within about :data:`MAX_SLEEP_S` of it.

    ``evaluator`` is the plan's evaluator brought to the stored state (:meth:`Plan.resume`); when None, it
    is resumed here, so a restart resumes open incidents and never re-sends what was delivered.
    """
    if evaluator is None:
        evaluator = plan.resume(store, clock())
    loop = _Loop(plan, store, evaluator, clock, log, observer)
    loop.run(stop)
    return loop.stats


class _Loop:
    def __init__(
        self,
        plan: Plan,
        store: Store,
        evaluator: Evaluator,
        clock: Callable[[], float],
        log: Log,
        observer: Observer | None = None,
    ):
        self.plan, self.store, self.evaluator, self.clock, self.log = plan, store, evaluator, clock, log
        self.observer = observer
        everything = [*plan.monitors, *([plan.control] if plan.control is not None else [])]
        self.slots = [
            _Slots(m, Schedule(m.rule.interval, phase_for(m.name, m.rule.interval))) for m in everything
        ]
        self.due: list[tuple[float, int]] = [(-math.inf, index) for index in range(len(self.slots))]
        """(wake-up time, index in :attr:`slots`), a heap: every monitor is due at the first wake-up."""
        self.owners = {m.name: m.monitor.owner for m in plan.monitors}
        self.control = plan.control.name if plan.control is not None else None
        self.inbox: queue.Queue[tuple[Finished | None, Delivery | None, Sent | None]] = queue.Queue()
        self.sending: set[tuple[str, str]] = set()
        self.stats = ServeStats()
        self.network_lost = False

    def run(self, stop: threading.Event) -> None:
        last_compact = self.clock()
        self._observe([], [])
        while not stop.is_set():
            now = self.clock()
            wake_at = self._start_due(now)
            self._deliver(now)
            if now - last_compact >= COMPACT_EVERY_S:
                self.store.compact(now, self.plan.retention_s)
                last_compact = now
            self._settle(wait=max(0.0, min(wake_at - self.clock(), MAX_SLEEP_S)), stop=stop)

    def _start_due(self, now: float) -> float:
        """Start every probe whose slot is due; the time of the earliest next slot.

        Only the monitors whose wake-up time has come are stepped (a heap of wake-up times): a wake-up costs
        the monitors due, not every monitor, so thousands of monitors cost no more per probe than ten.
        """
        due = self.due
        while due and due[0][0] <= now:
            _, index = heapq.heappop(due)
            slots = self.slots[index]
            step = slots.schedule.step(now, slots.last_slot)
            slots.last_slot = step.last_slot
            slots.skipped += step.skipped
            if step.run is not None and step.start is not None:
                if slots.in_flight:
                    slots.skipped += 1
                else:
                    slots.in_flight = True
                    self._spawn(self._probe, slots.planned, step.start)
            heapq.heappush(due, (step.wake_at, index))
        return min(due[0][0], now + MAX_SLEEP_S) if due else now + MAX_SLEEP_S

    def _probe(self, planned: PlannedMonitor, started: float) -> None:
        result = run_probe(planned.monitor, self.plan.mask)
        self.inbox.put((Finished(planned.name, started, result), None, None))

    def _send(self, delivery: Delivery) -> None:
        self.inbox.put((None, delivery, attempt(self.plan.notify, delivery)))

    @staticmethod
    def _spawn(target: Callable[..., None], *args: object) -> None:
        threading.Thread(target=target, args=args, daemon=True, name="lr-ci-uptime").start()

    def _deliver(self, now: float) -> None:
        for delivery in self.store.due(now, DELIVERY_LIMIT):
            ident = (delivery.key, delivery.target)
            if ident not in self.sending:
                self.sending.add(ident)
                self._spawn(self._send, delivery)

    def _settle(self, wait: float, stop: threading.Event) -> None:
        """Wait up to ``wait`` for something to finish, then settle everything that has."""
        finished: list[Finished] = []
        sent: list[tuple[Delivery, Sent]] = []
        deadline = time.monotonic() + wait
        while not stop.is_set():
            try:
                timeout = max(0.0, deadline - time.monotonic())
                item = self.inbox.get(timeout=timeout) if not (finished or sent) else self.inbox.get_nowait()
            except queue.Empty:
                break
            probe, delivery, outcome = item
            if probe is not None:
                finished.append(probe)
            elif delivery is not None and outcome is not None:
                sent.append((delivery, outcome))
        judged: list[Judged] = []
        if finished:
            judged = self._record(finished)
        for delivery, outcome in sent:
            self._mark(delivery, outcome)
        if finished or sent:
            self._observe(finished, judged)

    def _observe(self, finished: Sequence[Finished], judged: Sequence[Judged]) -> None:
        if self.observer is not None:
            incidents = [name for name, rule in self.evaluator.monitors.items() if rule.incident is not None]
            self.observer.settled(finished, judged, incidents, self.store.undelivered())

    def _record(self, finished: list[Finished]) -> list[Judged]:
        by_name = {s.planned.name: s for s in self.slots}
        for item in finished:
            by_name[item.monitor].in_flight = False
        skipped = {s.planned.name: s.skipped for s in self.slots if s.skipped}
        report = settle(
            finished,
            self.store,
            self.evaluator,
            control=self.control,
            owners=self.owners,
            targets=self.plan.targets,
            report=RoundReport(),
            skipped=skipped,
        )
        for slots in self.slots:
            if slots.skipped:
                self.stats.skipped += slots.skipped
                slots.skipped = 0
        self.stats.probes += len(finished)
        self.stats.rounds += 1
        for event in report.verdicts.events:
            self.stats.events.append(f"{event.kind} {event.monitor}")
            self.log(self.plan.mask(_event_line(event.kind, event.monitor, event.since, event.duration)))
        lost = report.network_lost_since is not None
        if lost != self.network_lost:
            self.network_lost = lost
            self.log(
                "the control target is failing: this monitor lost its own network; services are not paged"
                if lost
                else "the control target answers again: network back"
            )
        return report.verdicts.judged

    def _mark(self, delivery: Delivery, outcome: Sent) -> None:
        self.sending.discard((delivery.key, delivery.target))
        now = self.clock()
        if outcome.delivered:
            self.store.delivered(delivery.key, delivery.target, now)
            self.stats.delivered += 1
        else:
            reason = self.plan.mask(outcome.reason or "not delivered")
            retry_at = self.store.failed(delivery.key, delivery.target, now, reason)
            self.stats.failed += 1
            retry = f" (retry in {max(0.0, retry_at - now):.0f} s)" if retry_at != math.inf else ""
            what = f"{delivery.kind} {delivery.key} to {delivery.target}"
            self.log(f"delivery of {what} failed: {reason}{retry}")


def _event_line(kind: str, monitor: str, since: float, duration: float | None) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(since))
    if kind == "opened":
        return f"incident opened: {monitor} is down since {stamp}"
    if kind == "reminder":
        return f"reminder: {monitor} is still down since {stamp}"
    took = "" if duration is None else f" after {duration:.0f} s"
    return f"recovered: {monitor} is up again{took}"
