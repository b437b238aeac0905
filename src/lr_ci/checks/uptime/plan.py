"""What a monitor run is made of once ``[uptime]`` is read: the seam between the settings and the runners.

``settings.py`` reads ``lr-ci.toml`` (every problem is exit 2 at file:line) and builds a :class:`Plan`:
each monitor's probe bound to its settings and its credentials, its rule, the control target and the
notification targets with one ``notify`` function. The runners take a plan and nothing else:
``check --once`` runs one round of it, ``run`` (``runner.serve``) runs it on each monitor's schedule until
stopped, ``test-alert`` sends through its ``notify``. Tests build plans by hand around real servers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from lr_ci.checks.uptime.monitor import Monitor
from lr_ci.checks.uptime.notify import Sent
from lr_ci.checks.uptime.rule import ControlGuard, Evaluator, Rule
from lr_ci.checks.uptime.state import DEFAULT_RETENTION_S, Delivery, Store

ProbeKind = Literal["http", "flow", "smtp", "tls"]


@dataclass(frozen=True)
class PlannedMonitor:
    """One monitor: its probe (bound, credentials inside), its rule, what kind of probe, and ``target``, a
    masked description of what it probes for reports (``https://ops.example.com/api/health``,
    ``smtp://mail.example.com:587``)."""

    monitor: Monitor
    rule: Rule
    kind: ProbeKind
    target: str

    @property
    def name(self) -> str:
        return self.monitor.name


@dataclass(frozen=True)
class Plan:
    monitors: tuple[PlannedMonitor, ...]
    control: PlannedMonitor | None
    """The declared always-up target: when it fails too, a failure is the monitor's own network."""
    targets: tuple[str, ...]
    """Notification target ids as the outbox stores them (no credential in them)."""
    notify: Callable[[Delivery], Sent]
    """Sends one outbox row to its target (``Delivery.target`` is one of :attr:`targets`); never raises."""
    mask: Callable[[str], str]
    """The run's redactor: every text that leaves (store, report, log, alert) goes through it."""
    state_path: Path
    retention_s: float = DEFAULT_RETENTION_S

    def rules(self) -> dict[str, Rule]:
        return {m.name: m.rule for m in self.monitors}

    def evaluator(self) -> Evaluator:
        """A fresh evaluator for these monitors (:meth:`resume` brings one to the stored state)."""
        guard = None
        if self.control is not None:
            guard = ControlGuard(self.control.rule.interval, self.control.rule.timeout)
        return Evaluator(self.rules(), guard)

    def resume(self, store: Store, now: float) -> Evaluator:
        """An evaluator where the previous run left it, for both ways to run (``check --once``, ``run``).

        First the open incidents of monitors no longer configured are closed (a removed monitor is never
        probed again: its incident, and its GitHub issue, would stay open forever), each with one
        recovery per target; then open incidents resume and recent results are replayed
        (:meth:`Store.rebuild`). What the replay decides again is already in the outbox under the same
        keys, so nothing is sent twice; what a crash lost is added.
        """
        store.close_removed([m.name for m in self.monitors], now, self.targets)
        evaluator = self.evaluator()
        control = self.control.name if self.control is not None else None
        verdicts = store.rebuild(evaluator, control)
        if verdicts.events or verdicts.judged:
            store.record(now=now, judged=verdicts.judged, events=verdicts.events, targets=self.targets)
        return evaluator
