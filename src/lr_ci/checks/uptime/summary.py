"""What the status page shows, read from the state file: each monitor's state, its uptime over 24 h, 7 d
and 90 d, its response times over the last 24 h and the incident history. The page itself (``page.py``) is
pure and renders a :class:`Summary`; this module is the one place that reads the store for it.

Why the numbers are what they are:

- **Uptime counts judged probes.** ``up / (up + down)`` over the window, from the raw results kept for
  ``retention`` plus the hourly aggregates beyond it (the store folds whole hours, so the two never
  overlap). A probe judged ``network`` (the monitor lost its own network: the control target failed too)
  says nothing about the service: it counts in neither the numerator nor the denominator. A failure still
  waiting for the control's verdict counts as down, as the aggregates count it. A window without any
  judged probe is "no data", never 100%.
- **An aggregated hour counts whole** when it overlaps the window: the first hour of a 7 d or 90 d window
  may reach up to an hour further back than the window. Raw results count when they started inside it.
  SQLite counts them (:meth:`Store.judged_counts`): 90 days of history are never loaded for one number.
- **Percentages are floored, from the counts** (:meth:`Uptime.text`): one failure in 10 000 probes shows
  "99.99%", never a rounded "100%" that hides it.
- **Response times are those of probes that succeeded** (a timeout's duration is the timeout, not the
  service's speed): p50 and p95 by nearest rank over the last 24 h, and the chart's series.
- **The state** is ``down`` while the monitor has an open incident (since the outage's start), ``network``
  when its latest probe was judged a lost network (since the first of that run, within the last 24 h),
  ``unknown`` before any probe, else ``up`` (a single failed probe that has not met the rule yet is
  still up, and says so).
- **Every text is masked** with the run's redactor here (names, targets, owners, error texts), so no
  renderer can show a credential whatever it is given; ``page.py`` escapes for HTML, SVG and JSON.
- **Read only, one snapshot**: :meth:`Store.snapshot` makes every read see the same committed state of a
  file that ``lr-ci uptime run`` may be writing meanwhile (the page opens it without the run lock).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from lr_ci.checks.uptime.plan import PlannedMonitor
    from lr_ci.checks.uptime.state import IncidentRecord, Store
    from lr_ci.checks.uptime.state import ProbeResult as StoredResult

State = Literal["up", "down", "unknown", "network"]

DAY_S = 86_400.0
WINDOWS: tuple[tuple[str, float], ...] = (("24h", DAY_S), ("7d", 7 * DAY_S), ("90d", 90 * DAY_S))
"""The uptime windows the page shows, by the key ``status.json`` names them with."""
SERIES_S = DAY_S
"""The response-time chart and p50/p95 cover the last 24 h."""
MAX_INCIDENTS = 200
"""The history shows at most this many incidents (the newest), within the 90 d window."""
HOUR_S = 3600.0


@dataclass(frozen=True)
class Uptime:
    """Judged probes in a window: ``up`` of ``counted`` (network outcomes are in neither)."""

    up: int
    counted: int

    @property
    def percent(self) -> float | None:
        return None if self.counted == 0 else 100.0 * self.up / self.counted

    @property
    def basis_points(self) -> int | None:
        """Hundredths of a percent, floored from the counts (exact: no float rounding up to 100%)."""
        return None if self.counted == 0 else self.up * 10_000 // self.counted

    @property
    def text(self) -> str:
        """``99.95%``, ``100%``, or ``no data``."""
        points = self.basis_points
        if points is None:
            return "no data"
        if points in (0, 10_000):
            return f"{points // 100}%"
        return f"{points // 100}.{points % 100:02d}%"


@dataclass(frozen=True)
class Sample:
    """One probe of the last 24 h: its start, its duration and whether it was judged up."""

    started: float
    latency_ms: float
    outcome: Literal["up", "down", "network"]


@dataclass(frozen=True)
class IncidentView:
    id: str
    monitor: str
    since: float
    opened_at: float
    ended: float | None
    """When the service was back (None while open)."""
    duration_s: float
    """The outage's length; for an open incident, so far (until the summary's time)."""
    reminders: int

    @property
    def open(self) -> bool:
        return self.ended is None


@dataclass(frozen=True)
class MonitorView:
    name: str
    slug: str
    """The monitor's file name (``badges/<slug>.svg``): lowercase ASCII letters, digits and dashes."""
    kind: str
    target: str
    owner: str | None
    state: State
    since: float | None
    """Down since (the outage's start) or network lost since; None when up or unknown."""
    last_checked: float | None
    last_failed: bool
    """The latest probe failed (judged or not) without an incident: worth saying while it is up."""
    last_error: str | None
    uptime: dict[str, Uptime]
    """By window key: ``24h``, ``7d``, ``90d``."""
    samples: tuple[Sample, ...]
    """Probes of the last 24 h, in start order (network outcomes included: the chart marks them)."""
    p50_ms: float | None
    p95_ms: float | None
    open_incident: IncidentView | None


@dataclass(frozen=True)
class Summary:
    generated_at: float
    monitors: tuple[MonitorView, ...]
    incidents: tuple[IncidentView, ...]
    """Open ones and those recovered within 90 d, the newest outage first (at most ``MAX_INCIDENTS``)."""


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (a value that was measured), None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100.0 * len(ordered)))
    return ordered[rank - 1]


def slugs(names: Sequence[str]) -> list[str]:
    """One file-name-safe slug per name, unique: ``API health`` -> ``api-health``; a name without ASCII
    letters or digits gets ``monitor``; a slug taken already gets ``-2``, ``-3``... in name order."""
    out: list[str] = []
    taken: set[str] = set()
    for name in names:
        ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
        base = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:60].strip("-") or "monitor"
        slug, number = base, 1
        while slug in taken:
            number += 1
            slug = f"{base}-{number}"
        taken.add(slug)
        out.append(slug)
    return out


def read(monitors: Sequence[PlannedMonitor], store: Store, now: float, mask: Callable[[str], str]) -> Summary:
    """The summary of ``monitors`` (the plan's, in its order) at ``now`` from ``store``, every text masked.

    Only configured monitors are shown: a monitor removed from ``lr-ci.toml`` has its incident closed at
    the next start and leaves the page with it.
    """
    names = [planned.name for planned in monitors]
    wanted = set(names)
    oldest = now - max(seconds for _key, seconds in WINDOWS)
    series_start = now - SERIES_S
    read_back = []
    with store.snapshot():
        every = [i for i in store.incident_history(oldest) if i.monitor in wanted]
        open_now = {i.monitor: i for i in every if i.recovered_at is None}
        for planned, slug in zip(monitors, slugs([mask(name) for name in names]), strict=True):
            uptime = {key: Uptime(*store.judged_counts(planned.name, now - s, now)) for key, s in WINDOWS}
            recent = [r for r in store.results(planned.name, series_start - 1e-3) if r.started <= now]
            if not recent:  # not probed for a day: its state is what its latest probe said
                recent = [r for r in store.results(planned.name) if r.started <= now][-1:]
            read_back.append((planned, slug, uptime, recent))
    incidents = {i.id: _incident(i, now, mask) for i in every[:MAX_INCIDENTS]}
    out = []
    for planned, slug, uptime, recent in read_back:
        samples = tuple(
            Sample(r.started, r.latency * 1000.0, r.outcome or "down")
            for r in recent
            if series_start <= r.started
        )
        latencies = [s.latency_ms for s in samples if s.outcome == "up"]
        latest = recent[-1] if recent else None
        incident = open_now.get(planned.name)
        state, since = _state(recent, latest, incident)
        open_view = None
        if incident is not None:
            open_view = incidents.get(incident.id) or _incident(incident, now, mask)
        owner = planned.monitor.owner
        out.append(
            MonitorView(
                name=mask(planned.name),
                slug=slug,
                kind=planned.kind,
                target=mask(planned.target),
                owner=None if owner is None else mask(owner),
                state=state,
                since=since,
                last_checked=None if latest is None else latest.finished,
                last_failed=latest is not None and not latest.up,
                last_error=None if latest is None or latest.error is None else mask(latest.error),
                uptime=uptime,
                samples=samples,
                p50_ms=percentile(latencies, 50),
                p95_ms=percentile(latencies, 95),
                open_incident=open_view,
            )
        )
    return Summary(now, tuple(out), tuple(incidents.values()))


def _state(
    raw: Sequence[StoredResult], latest: StoredResult | None, incident: IncidentRecord | None
) -> tuple[State, float | None]:
    """The monitor's state and since when (see the module's docstring)."""
    if incident is not None:
        return "down", incident.since
    if latest is None:
        return "unknown", None
    if latest.outcome != "network":
        return "up", None
    since = latest.started
    for result in reversed(raw):
        if result.started > latest.started:
            continue
        if result.outcome != "network":
            break
        since = result.started
    return "network", since


def _incident(record: IncidentRecord, now: float, mask: Callable[[str], str]) -> IncidentView:
    ended = record.ended
    duration = record.duration if record.duration is not None else max(0.0, now - record.since)
    return IncidentView(
        id=record.id,
        monitor=mask(record.monitor),
        since=record.since,
        opened_at=record.opened_at,
        ended=ended,
        duration_s=duration,
        reminders=record.reminders,
    )
