"""Prometheus metrics of ``lr-ci uptime run``: what the loop settled, as gauges and counters per monitor.

Why it is shaped this way:

- **Written by the loop, read by the listener.** ``runner.serve`` calls :meth:`UptimeMetrics.settled` from
  its own thread, the one that owns the store and the rule, right after results become decisions; the
  listener's threads only render the registry (prometheus-client's metrics lock their values). The HTTP
  side never touches SQLite.
- **Its own registry.** A :class:`~prometheus_client.CollectorRegistry` per run, not the process-global one:
  no default process/GC collectors mixed in, and two runs in one process (tests) never share series.
- **Labels ``monitor`` and ``kind`` only.** A monitor's name is the user's own label and ``kind`` is the
  probe kind (``http``, ``flow``, ``smtp``, ``tls``); never its URL, which may hold userinfo, nor any other
  text a credential could be in. Every label value still goes through the run's mask.
- **Counters for the rule, gauges for the state.** ``lr_ci_uptime_probe_failures_total`` counts probes
  judged ``down`` (a failure while the control target failed too is ``network``: the monitor's own network,
  not the service, so it is not counted), which is what ``increase(...[5m]) >= 2`` needs to say "2 failed
  checks in 5 minutes, consecutive or not" (docs/uptime.md, Prometheus). Every series of every monitor
  exists from the start at 0, so the first failure is an increase Prometheus sees, not a new series.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from lr_ci.checks.uptime.monitor import Finished
    from lr_ci.checks.uptime.plan import Plan
    from lr_ci.checks.uptime.rule import Judged

PREFIX = "lr_ci_uptime_"
LABELS = ("monitor", "kind")


class UptimeMetrics:
    """The metrics of one run's monitors (the control target is not a monitor: it has no series)."""

    def __init__(self, monitors: Iterable[tuple[str, str]], mask: Callable[[str], str] = lambda text: text):
        """``monitors``: (name, kind) of every monitor, as the plan has them."""
        from prometheus_client import CollectorRegistry, Counter, Gauge, disable_created_metrics

        # No ``*_created`` gauge beside each counter: a series per counter nobody alerts on. The switch is
        # the library's, process-wide; ``lr-ci uptime run`` has no other prometheus-client user.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry: CollectorRegistry = CollectorRegistry(auto_describe=True)
        self._labels = {name: (mask(name), kind) for name, kind in monitors}

        def gauge(name: str, text: str) -> Gauge:
            return Gauge(PREFIX + name, text, LABELS, registry=self.registry)

        def counter(name: str, text: str) -> Counter:
            return Counter(PREFIX + name, text, LABELS, registry=self.registry)

        self.success = gauge("probe_success", "1 when the last probe answered as required, else 0.")
        self.duration = gauge("probe_duration_seconds", "How long the last probe took.")
        self.last_check = gauge(
            "last_check_timestamp_seconds", "When the last probe finished (Unix time, seconds)."
        )
        self.probes = counter("probes", "Probes finished.")
        self.failures = counter(
            "probe_failures",
            "Probes judged down (failures while the monitor's own network was lost are not counted).",
        )
        self.incident_open = gauge("incident_open", "1 while the monitor has an open incident, else 0.")
        self.open_incidents = Gauge(
            PREFIX + "open_incidents", "Monitors with an open incident.", registry=self.registry
        )
        self.undelivered = Gauge(
            PREFIX + "undelivered_notifications",
            "Notifications decided but not delivered yet (retried with backoff).",
            registry=self.registry,
        )
        self._open: set[str] = set()
        for labels in self._labels.values():
            self.probes.labels(*labels)
            self.failures.labels(*labels)
            self.incident_open.labels(*labels).set(0)

    @classmethod
    def for_plan(cls, plan: Plan) -> UptimeMetrics:
        return cls(((m.name, m.kind) for m in plan.monitors), plan.mask)

    def settled(
        self,
        finished: Sequence[Finished],
        judged: Sequence[Judged],
        open_incidents: Sequence[str],
        undelivered: int,
    ) -> None:
        """What one settle decided (called from the loop's thread; ``runner.Observer``)."""
        for item in finished:
            labels = self._labels.get(item.monitor)
            if labels is None:  # the control target
                continue
            self.success.labels(*labels).set(1 if item.result.ok else 0)
            self.duration.labels(*labels).set(item.result.elapsed_s)
            self.last_check.labels(*labels).set(item.finished)
            self.probes.labels(*labels).inc()
        for verdict in judged:
            labels = self._labels.get(verdict.monitor)
            if labels is not None and verdict.outcome == "down":
                self.failures.labels(*labels).inc()
        opened = set(open_incidents) & self._labels.keys()
        for name in opened ^ self._open:  # only what changed: a settle per probe, hundreds of monitors
            self.incident_open.labels(*self._labels[name]).set(1 if name in opened else 0)
        self._open = opened
        self.open_incidents.set(len(opened))
        self.undelivered.set(undelivered)

    def render(self) -> bytes:
        """The text exposition format, as ``/metrics`` serves it."""
        from prometheus_client import generate_latest

        return generate_latest(self.registry)
