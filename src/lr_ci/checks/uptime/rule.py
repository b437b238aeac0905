"""The alert rule: probe results in, incident events out. Pure: no clock, no I/O, time is passed in.

The rule, as issue 16 states it: alert when at least ``failures`` probes failed within ``window``,
consecutive or not; one incident per outage; an optional reminder every ``renotify``; a recovery after
``recover_after`` consecutive successes, with the outage's duration.

What the words mean here, precisely (the tests in ``tests/test_uptime_rule.py`` hold each sentence):

- A result's time is its probe's **start**. Probes start on a fixed schedule (``schedule.py``), so failures
  of consecutive probes are exactly one interval apart whatever each probe took. Failures count together
  when the last one started less than ``window`` after the first: ``last.start - first.start < window``.
  Hence a rule whose ``failures`` can never fit, ``(failures - 1) * interval >= window``, is refused by
  :func:`validate_rule`.
- The decision is made when the deciding result arrives (its ``finished`` time): that is ``opened_at``.
  A probe is bounded by its timeout and a timeout is never longer than the interval, so an outage starting
  at ``s`` is seen by the probe starting in ``[s, s + interval)``, the ``failures``-th failed probe starts
  ``(failures - 1) * interval`` later and reports within ``timeout``: the alert is due at most
  :meth:`Rule.alert_bound` = ``failures * interval + timeout`` after the outage starts (two intervals plus
  the timeout with the default ``failures = 2``), a property tested with hypothesis. With a control
  target, a failure waits for the control probe of its slot; the bound still holds when the control is
  probed at least as often as the monitor and its timeout is no longer (the control probe covering a
  failure started no later than it, so it reports no later).
- One incident per outage: while an incident is open, failures open nothing; only ``recover_after``
  consecutive successes (by start order) close it. Flapping (down, up, down, up) keeps the incident open.
  After a recovery, only failures that start after it count, so one flake right after a recovery does
  not page again with the outage's old failures.
- Reminders: the ``k``-th is due at ``opened_at + k * renotify``. After a pause only the latest due
  reminder is sent (its sequence says how many periods passed), never a burst of the missed ones.
- A **control target** (declared always up) failing at the same time as a service means the monitor lost
  its own network: such a service failure is judged ``network``, which neither counts as a failure nor
  breaks a run of successes, instead of opening an incident for every service (:class:`ControlGuard`).
- Every event has an idempotency key, incident id + kind + sequence. The incident id is derived from the
  monitor's name and the outage's start (to the millisecond, as the store keeps it), so the same data gives
  the same keys after a restart, and two runs that decide the same thing produce the same key: the
  outbox stores a key once and a receiver can drop a duplicate.
"""

from __future__ import annotations

import hashlib
import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Outcome = Literal["up", "down", "network"]
"""A judged probe result: the service answered as required, it did not, or the monitor's own network was
down at the time (the control target failed too), so the result says nothing about the service."""

EventKind = Literal["opened", "reminder", "recovered"]

DEFAULT_INTERVAL_S = 60.0
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_FAILURES = 2
DEFAULT_WINDOW_S = 300.0
DEFAULT_RECOVER_AFTER = 2


def validate_rule(
    interval: float,
    timeout: float,
    failures: int,
    window: float,
    *,
    recover_after: int = DEFAULT_RECOVER_AFTER,
    renotify: float | None = None,
) -> str | None:
    """Why this rule cannot work, as one sentence, or None when it can.

    The caller turns a reason into exit 2 at the config's file:line: a monitor whose rule can never fire
    would otherwise run for months and stay silent through every outage.
    """
    for name, value in (("interval", interval), ("timeout", timeout), ("window", window)):
        if not math.isfinite(value) or value <= 0:
            return f"the {name} must be a number of seconds above 0, not {value:g}"
    if failures < 1:
        return f"failures must be at least 1, not {failures}"
    if recover_after < 1:
        return f"recover_after must be at least 1, not {recover_after}"
    if renotify is not None and (not math.isfinite(renotify) or renotify <= 0):
        return f"renotify must be a number of seconds above 0, not {renotify:g}"
    if timeout > interval:
        return (
            f"the timeout ({timeout:g} s) is longer than the interval ({interval:g} s): a probe would still "
            f"run when the next one starts, so the schedule and the alert bound could not hold"
        )
    span = (failures - 1) * interval
    if span >= window:
        return (
            f"this rule can never fire: {failures} failures of a probe that runs every {interval:g} s "
            f"span at least {span:g} s, which does not fit in a window of {window:g} s; "
            f"lower failures, shorten the interval or widen the window"
        )
    return None


@dataclass(frozen=True)
class Rule:
    """One monitor's schedule and alert rule; build it after :func:`validate_rule` accepted the numbers."""

    interval: float = DEFAULT_INTERVAL_S
    timeout: float = DEFAULT_TIMEOUT_S
    failures: int = DEFAULT_FAILURES
    window: float = DEFAULT_WINDOW_S
    recover_after: int = DEFAULT_RECOVER_AFTER
    renotify: float | None = None

    def problem(self) -> str | None:
        """:func:`validate_rule` for this rule."""
        return validate_rule(
            self.interval,
            self.timeout,
            self.failures,
            self.window,
            recover_after=self.recover_after,
            renotify=self.renotify,
        )

    def alert_bound(self) -> float:
        """The longest time from an outage's start to the alert: ``failures * interval + timeout``."""
        return self.failures * self.interval + self.timeout


def to_ms(seconds: float) -> int:
    """Times as the store keeps them (integer milliseconds); ids are derived from this form."""
    return round(seconds * 1000)


def incident_id(monitor: str, since: float) -> str:
    """A stable id for the outage of ``monitor`` that started at ``since``: header-safe, the same after a
    restart (the start is taken to the millisecond, as stored) and in two runs that see the same data."""
    digest = hashlib.sha256(f"{monitor}\0{to_ms(since)}".encode()).hexdigest()
    return f"inc-{digest[:20]}"


@dataclass(frozen=True)
class Event:
    """A notification the rule decided on. ``at`` is when it was decided; ``since`` the outage's start."""

    kind: EventKind
    monitor: str
    incident_id: str
    sequence: int
    at: float
    since: float
    duration: float | None = None
    """For ``recovered``: from the first failed probe's start to the first successful probe's start of the
    run of successes that closed the incident."""
    decided_by: float | None = None
    """The start of the probe result that decided it (None for a reminder, which the clock decides): for
    ``opened`` it is the incident's trigger, which a restart resumes after."""

    @property
    def key(self) -> str:
        """The idempotency key a receiver deduplicates by: incident id, kind, sequence."""
        return f"{self.incident_id}:{self.kind}:{self.sequence}"


@dataclass
class Incident:
    """An open outage. ``trigger`` is the start of the failure that opened it: results up to it are
    already accounted for when an incident is resumed from the store."""

    id: str
    monitor: str
    since: float
    trigger: float
    opened_at: float
    reminders: int = 0


class MonitorRule:
    """The rule's state for one monitor: results in (in start order), events out."""

    def __init__(self, monitor: str, rule: Rule, incident: Incident | None = None) -> None:
        self.monitor = monitor
        self.rule = rule
        self.incident = incident
        self._failures: deque[float] = deque()
        self._successes = 0
        self._first_success: float | None = None
        self._last_start = incident.trigger if incident is not None else -math.inf
        self.stale = 0
        """Results ignored because they started no later than one already seen (a duplicate, or a result
        the incident being resumed already accounts for)."""

    def observe(self, started: float, finished: float, outcome: Outcome) -> list[Event]:
        """Account for one judged result; returns the events it causes (opened, reminder, recovered)."""
        if started <= self._last_start:
            self.stale += 1
            return []
        self._last_start = started
        events: list[Event] = []
        if outcome == "down":
            self._successes, self._first_success = 0, None
            self._failures.append(started)
            while self._failures and self._failures[0] <= started - self.rule.window:
                self._failures.popleft()
            if self.incident is None and len(self._failures) >= self.rule.failures:
                since = self._failures[0]
                self.incident = Incident(
                    incident_id(self.monitor, since), self.monitor, since, started, finished
                )
                events.append(
                    Event("opened", self.monitor, self.incident.id, 1, finished, since, None, started)
                )
        elif outcome == "up":
            self._successes += 1
            if self._first_success is None:
                self._first_success = started
            if self.incident is not None and self._successes >= self.rule.recover_after:
                incident, self.incident = self.incident, None
                duration = self._first_success - incident.since
                events.append(
                    Event(
                        "recovered", self.monitor, incident.id, 1, finished, incident.since, duration, started
                    )
                )
                self._failures.clear()
        events.extend(self.tick(finished))
        return events

    def tick(self, now: float) -> list[Event]:
        """The reminder due at ``now``, if any: only the latest due one, never a burst after a pause."""
        incident, every = self.incident, self.rule.renotify
        if incident is None or every is None:
            return []
        sequence = math.floor((now - incident.opened_at) / every)
        if sequence <= incident.reminders:
            return []
        incident.reminders = sequence
        return [Event("reminder", self.monitor, incident.id, sequence, now, incident.since)]


class ControlGuard:
    """The control target's results, to tell "this service is down" from "the monitor lost its network".

    A service failure that started at ``t`` is judged by the control probe covering ``t``: the latest one
    that started at or before ``t`` and less than one control interval before it (or, when that slot was
    skipped, the first one after ``t``). Control failed there: ``network``. Control answered: ``down``.
    Not known yet: None, and the evaluator holds the result until it is. A network loss that begins between
    a control probe and a service probe can count one service failure; with ``failures >= 2`` that alone
    opens nothing, and the next round is judged ``network``.
    """

    def __init__(self, interval: float, timeout: float) -> None:
        self.interval = interval
        self.timeout = timeout
        self._results: deque[tuple[float, bool]] = deque()
        self.lost_since: float | None = None
        """The start of the first failed control probe of the current run of failures, or None when the
        latest control probe answered: what the report shows as "the monitor lost its own network"."""

    def add(self, started: float, up: bool) -> None:
        """Record a control result (results arrive in start order; an older one is ignored)."""
        if self._results and started <= self._results[-1][0]:
            return
        self._results.append((started, up))
        if up:
            self.lost_since = None
        elif self.lost_since is None:
            self.lost_since = started

    def judge(self, started: float) -> Literal["down", "network"] | None:
        """The outcome of a service failure that started at ``started``, or None while not known."""
        covering: bool | None = None
        for control_start, up in reversed(self._results):
            if control_start <= started:
                if started - control_start < self.interval:
                    covering = up
                break
            covering = up  # the earliest control probe after ``started`` so far
        if covering is None:
            return None
        return "down" if covering else "network"

    def forget_before(self, started: float) -> None:
        """Drop control results no pending or future service result can be judged by."""
        while len(self._results) > 1 and self._results[1][0] <= started - self.interval:
            self._results.popleft()


@dataclass(frozen=True)
class Judged:
    """A result whose outcome is now known (the store records it)."""

    monitor: str
    started: float
    outcome: Outcome


@dataclass
class Verdicts:
    """What one call to the evaluator decided: outcomes to record and events to send."""

    judged: list[Judged] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    def extend(self, other: Verdicts) -> None:
        self.judged.extend(other.judged)
        self.events.extend(other.events)


@dataclass
class _Pending:
    started: float
    finished: float
    up: bool


class Evaluator:
    """Every monitor's rule, plus the control target: raw results in, judged outcomes and events out.

    Without a control target every failure is ``down`` at once. With one, a failure waits for the control
    probe covering it (see :class:`ControlGuard`), and later results of that monitor queue behind it, so
    each monitor's rule still sees its results in start order. A held failure whose control verdict has not
    come within one control interval plus its timeout is judged ``down``: when in doubt, page.
    """

    def __init__(self, rules: Mapping[str, Rule], control: ControlGuard | None = None) -> None:
        self.monitors = {name: MonitorRule(name, rule) for name, rule in rules.items()}
        self.control = control
        self._queues: dict[str, deque[_Pending]] = {name: deque() for name in rules}

    def resume(self, incident: Incident) -> None:
        """Restore an open incident read from the store (before replaying the results after its trigger)."""
        self.monitors[incident.monitor] = MonitorRule(
            incident.monitor, self.monitors[incident.monitor].rule, incident
        )

    def observe(self, monitor: str, started: float, finished: float, up: bool) -> Verdicts:
        """A raw probe result of ``monitor``."""
        self._queues[monitor].append(_Pending(started, finished, up))
        return self._drain(monitor, now=finished)

    def observe_judged(self, monitor: str, started: float, finished: float, outcome: Outcome) -> Verdicts:
        """A result whose outcome was judged before (replayed from the store): no control needed."""
        return Verdicts(events=self.monitors[monitor].observe(started, finished, outcome))

    def observe_control(self, started: float, finished: float, up: bool) -> Verdicts:
        """A control result: may release the failures that were waiting for it."""
        out = Verdicts()
        if self.control is None:
            return out
        self.control.add(started, up)
        for name in self._queues:
            out.extend(self._drain(name, now=finished))
        # A result still in flight started at most one timeout before now; held ones are older still.
        in_flight = finished - max((m.rule.timeout for m in self.monitors.values()), default=0.0)
        oldest = min((q[0].started for q in self._queues.values() if q), default=in_flight)
        self.control.forget_before(min(oldest, in_flight))
        return out

    def tick(self, now: float) -> Verdicts:
        """Reminders due at ``now``, and held failures whose control verdict is overdue (judged ``down``)."""
        out = Verdicts()
        for name in self._queues:
            out.extend(self._drain(name, now=now))
            out.events.extend(self.monitors[name].tick(now))
        return out

    def pending(self, monitor: str) -> int:
        """Results of ``monitor`` waiting for the control's verdict."""
        return len(self._queues[monitor])

    def _drain(self, monitor: str, now: float) -> Verdicts:
        out = Verdicts()
        queue, rule = self._queues[monitor], self.monitors[monitor]
        while queue:
            head = queue[0]
            outcome: Outcome | None
            if head.up:
                outcome = "up"
            elif self.control is None:
                outcome = "down"
            else:
                outcome = self.control.judge(head.started)
                overdue = head.finished + self.control.interval + self.control.timeout
                if outcome is None and now > overdue:
                    outcome = "down"
            if outcome is None:
                break
            queue.popleft()
            out.judged.append(Judged(monitor, head.started, outcome))
            out.events.extend(rule.observe(head.started, max(head.finished, now), outcome))
        return out
