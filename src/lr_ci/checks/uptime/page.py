"""The status page, its badges and its JSON summary: a :class:`~lr_ci.checks.uptime.summary.Summary` in,
files out. Pure: no clock, no store, no I/O; ``lr-ci uptime page --out DIR`` writes what :func:`site`
returns, and ``lr-ci uptime run``'s listener can serve the same bytes.

Why it is shaped this way:

- **One HTML file that needs nothing else.** Inline CSS and inline SVG, no JavaScript, no font, no image
  by URL, and ``<link rel="icon" href="data:,">`` so the browser does not even fetch ``/favicon.ico``; a
  Content-Security-Policy (``default-src 'none'``) says so to the browser as well. It works from a file,
  from GitHub Pages, behind a proxy that blocks everything, and when the monitored service's CDN is the
  thing that is down.
- **Readable on a phone**: the viewport meta and a fluid, single-column layout; long names and URLs wrap
  instead of widening the page (a test measures it at 390 px).
- **Every text is escaped** for where it goes (HTML, SVG/XML, JSON), and characters XML cannot hold are
  replaced; the summary masked them with the run's redactor before, so a credential cannot reach a file.
- **Badges** are shields-style flat SVGs, ``<name> | up 99.95%``: the state, and the uptime over the
  longest window (90 d, or what the store holds). Green from 99.9%, yellow from 99%, red below or while
  down, grey with no data or a lost network. Text widths are estimated from Verdana's metrics, as
  shields.io does; nothing is measured at render time.
- **The chart** is a polyline through the 5-minute buckets that had a successful probe (their mean
  response time), broken where a bucket had only failures; buckets without any probe do not break it
  (probes may be further apart than a bucket). A bucket with a failure gets a red tick on the time axis
  (grey for a lost network). Axis labels: the response-time scale in ms and the times (UTC).
"""

from __future__ import annotations

import html
import json
import math
import re
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable

    from lr_ci.checks.uptime.summary import IncidentView, MonitorView, Summary

SCHEMA = "lr-ci.uptime-status/1"
BADGE_WINDOW = "90d"
CHART_BUCKETS = 288
"""5-minute buckets over the last 24 h: the chart's size does not grow with the probe rate."""
CONTENT_TYPES = {
    "html": "text/html; charset=utf-8",
    "json": "application/json",
    "svg": "image/svg+xml",
}
GREEN, YELLOW, RED, GREY = "#2e7d32", "#b08800", "#c62828", "#6b6b6b"
BADGE_GREEN, BADGE_YELLOW, BADGE_RED, BADGE_GREY = "#4c1", "#dfb317", "#e05d44", "#9f9f9f"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
STATE_WORDS = {"up": "up", "down": "down", "unknown": "unknown", "network": "network lost"}
KIND_WORDS = {"http": "HTTP", "flow": "flow", "smtp": "SMTP", "tls": "TLS certificate"}


def esc(text: str) -> str:
    """``text`` for HTML or XML content and attribute values: escaped, and the characters XML forbids (a
    control character a TOML string can hold) replaced."""
    return html.escape(_NOT_XML.sub("\ufffd", text), quote=True)


def when(seconds: float) -> str:
    """``2026-12-01 21:05 UTC``."""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(seconds))


def iso(seconds: float | None) -> str | None:
    return None if seconds is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def duration_text(seconds: float) -> str:
    """``45 s``, ``3 min 20 s``, ``2 h 5 min``, ``3 d 4 h``: the two largest units."""
    total = max(0, round(seconds))
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "min"), (secs, "s")]
    while len(parts) > 1 and parts[0][0] == 0:
        parts.pop(0)
    shown = [f"{value} {unit}" for value, unit in parts[:2] if value or unit == parts[0][1]]
    return " ".join(shown)


def state_text(view: MonitorView) -> str:
    """What the page says of a monitor's state: ``Up``, ``Down since ...``, ``Network lost since ...``."""
    if view.state == "down" and view.since is not None:
        return f"Down since {when(view.since)}"
    if view.state == "network" and view.since is not None:
        return f"Network lost since {when(view.since)} (the monitor's own network, not the service)"
    if view.state == "unknown":
        return "Unknown (not probed yet)"
    return "Up"


# -- badges ------------------------------------------------------------------------------------------------

# Verdana 11 px advance widths (px) of the characters badges mostly hold; others take the default.
_WIDE = dict.fromkeys("MW%@", 11.0) | dict.fromkeys("mw", 10.0)
_NARROW = dict.fromkeys("il.,:;!|'", 3.2) | dict.fromkeys("fjtrI()[] -", 4.4)
_DIGIT = 7.0
_UPPER = 7.6
_LOWER = 6.4


def text_width(text: str) -> float:
    """An estimate of ``text``'s width in px in Verdana 11 px (shields.io sizes its badges this way)."""
    width = 0.0
    for char in text:
        if char in _WIDE:
            width += _WIDE[char]
        elif char in _NARROW:
            width += _NARROW[char]
        elif char.isdigit():
            width += _DIGIT
        elif char.isupper():
            width += _UPPER
        else:
            width += _LOWER
    return width


def badge_svg(label: str, message: str, color: str) -> str:
    """A shields-style flat badge: ``label`` on grey, ``message`` on ``color``."""
    label = label if len(label) <= 40 else label[:39] + "…"
    left = round(text_width(label) + 12)
    right = round(text_width(message) + 12)
    total = left + right
    title = esc(f"{label}: {message}")
    font = "Verdana,Geneva,DejaVu Sans,sans-serif"

    def text(x: float, value: str) -> str:
        return (
            f'<text x="{x:g}" y="15" fill="#010101" fill-opacity=".3">{esc(value)}</text>'
            f'<text x="{x:g}" y="14">{esc(value)}</text>'
        )

    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" '
        f'aria-label="{title}">'
        f"<title>{title}</title>"
        '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/>'
        '<stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="r"><rect width="{total}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r)"><rect width="{left}" height="20" fill="#555"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{color}"/>'
        f'<rect width="{total}" height="20" fill="url(#s)"/></g>'
        f'<g fill="#fff" text-anchor="middle" font-family="{font}" text-rendering="geometricPrecision" '
        f'font-size="11">{text(left / 2, label)}{text(left + right / 2, message)}</g></svg>\n'
    )


def badge_for(view: MonitorView) -> str:
    """The monitor's badge: its state and its uptime over :data:`BADGE_WINDOW`."""
    uptime = view.uptime[BADGE_WINDOW]
    points = uptime.basis_points
    word = STATE_WORDS[view.state]
    message = word if points is None or view.state in ("unknown", "network") else f"{word} {uptime.text}"
    if view.state == "down":
        color = BADGE_RED
    elif view.state != "up" or points is None:
        color = BADGE_GREY
    else:
        color = BADGE_GREEN if points >= 9990 else BADGE_YELLOW if points >= 9900 else BADGE_RED
    return badge_svg(view.name, message, color)


# -- the chart ---------------------------------------------------------------------------------------------

_W, _H = 600, 164
_LEFT, _RIGHT, _TOP, _BOTTOM = 72, 592, 12, 122


def _nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above ``value`` (an axis's top)."""
    if value <= 1:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if step * power >= value:
            return step * power
    return 10.0 * power  # pragma: no cover - the loop always returns


def _ms(value: float) -> str:
    return f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms".replace(".0 ms", " ms")


def chart_svg(view: MonitorView, now: float) -> str:
    """The response times of the last 24 h as an inline SVG: one polyline per run of buckets with a
    successful probe, failure ticks, and labelled axes."""
    start = now - 86_400.0
    span = 86_400.0 / CHART_BUCKETS
    sums = [0.0] * CHART_BUCKETS
    counts = [0] * CHART_BUCKETS
    marks: dict[int, str] = {}
    for sample in view.samples:
        index = min(CHART_BUCKETS - 1, max(0, int((sample.started - start) // span)))
        if sample.outcome == "up":
            sums[index] += sample.latency_ms
            counts[index] += 1
        elif sample.outcome == "down":
            marks[index] = RED
        else:
            marks.setdefault(index, GREY)
    means = [sums[i] / counts[i] if counts[i] else None for i in range(CHART_BUCKETS)]
    top = _nice_ceiling(max((m for m in means if m is not None), default=0.0))

    def x(index: float) -> float:
        return _LEFT + (_RIGHT - _LEFT) * (index + 0.5) / CHART_BUCKETS

    def y(value: float) -> float:
        return _BOTTOM - (_BOTTOM - _TOP) * value / top

    lines: list[str] = []
    run: list[str] = []
    for index, mean in enumerate([*means, None]):
        if mean is not None:
            run.append(f"{x(index):.1f},{y(mean):.1f}")
            continue
        if index < CHART_BUCKETS and index not in marks:
            continue  # no probe in this bucket (probes further apart than a bucket): the line goes on
        if len(run) == 1:
            cx, cy = run[0].split(",")
            lines.append(f'<circle cx="{cx}" cy="{cy}" r="1.8" class="line-dot"/>')
        elif run:
            lines.append(f'<polyline class="line" points="{" ".join(run)}"/>')
        run = []
    ticks = "".join(
        f'<rect x="{x(index) - 1:.1f}" y="{_BOTTOM - 5}" width="2.4" height="5" fill="{color}"/>'
        for index, color in sorted(marks.items())
    )
    label = f"Response time of {view.name} over the last 24 hours (UTC)"
    axis_text = 'font-size="14" fill="currentColor"'
    y_labels = "".join(
        f'<text x="{_LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end" {axis_text}>{esc(_ms(value))}</text>'
        f'<line x1="{_LEFT}" x2="{_RIGHT}" y1="{y(value):.1f}" y2="{y(value):.1f}" class="grid"/>'
        for value in (0.0, top / 2, top)
    )
    x_labels = "".join(
        f'<text x="{_LEFT + (_RIGHT - _LEFT) * fraction:.1f}" y="{_H - 20}" text-anchor="{anchor}" '
        f"{axis_text}>{esc(time.strftime('%H:%M', time.gmtime(start + 86_400.0 * fraction)))}</text>"
        for fraction, anchor in (
            (0.0, "start"),
            (0.25, "middle"),
            (0.5, "middle"),
            (0.75, "middle"),
            (1.0, "end"),
        )
    )
    empty = ""
    if not lines:
        empty = (
            f'<text x="{(_LEFT + _RIGHT) / 2}" y="{(_TOP + _BOTTOM) / 2}" text-anchor="middle" '
            f"{axis_text}>no successful probe in the last 24 h</text>"
        )
    return (
        f'<svg class="chart" viewBox="0 0 {_W} {_H}" role="img" aria-label="{esc(label)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{esc(label)}</title>{y_labels}{x_labels}'
        f'<text x="{_RIGHT}" y="{_H - 3}" text-anchor="end" font-size="12" fill="currentColor">UTC</text>'
        f"{''.join(lines)}{ticks}{empty}</svg>"
    )


# -- the page ----------------------------------------------------------------------------------------------

_CSS = """
:root { color-scheme: light dark; --fg: #1b1b1b; --bg: #fafafa; --card: #fff; --muted: #5c5c5c;
  --line: #1565c0; --border: #ddd; }
@media (prefers-color-scheme: dark) { :root { --fg: #eee; --bg: #121212; --card: #1e1e1e; --muted: #aaa;
  --line: #64b5f6; --border: #333; } }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; font: 16px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--fg); background: var(--bg); overflow-wrap: anywhere; }
main { max-width: 56rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.6rem; margin: .5rem 0; }
h2 { font-size: 1.2rem; margin: 0 0 .4rem; }
.summary { font-weight: 600; }
.muted, .meta { color: var(--muted); font-size: .9rem; }
.monitor { background: var(--card); border: 1px solid var(--border); border-radius: 8px; padding: 1rem;
  margin: 1rem 0; }
.state { display: inline-block; font-weight: 600; padding: .1rem .6rem; border-radius: 1rem; color: #fff;
  margin: .2rem 0; }
.state.up { background: #2e7d32; } .state.down { background: #c62828; }
.state.unknown, .state.network { background: #6b6b6b; }
.uptime { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: .5rem; margin: .8rem 0;
  padding: 0; }
.uptime div { border: 1px solid var(--border); border-radius: 6px; padding: .4rem .6rem; }
.uptime dt { color: var(--muted); font-size: .8rem; } .uptime dd { margin: 0; font-size: 1.15rem;
  font-weight: 600; }
figure { margin: .5rem 0 0; }
.chart { width: 100%; max-width: 40rem; height: auto; display: block; color: var(--muted); }
.chart .line { fill: none; stroke: var(--line); stroke-width: 1.6; stroke-linejoin: round; }
.chart .line-dot { fill: var(--line); }
.chart .grid { stroke: var(--border); stroke-width: 1; }
figcaption { color: var(--muted); font-size: .85rem; }
table { width: 100%; border-collapse: collapse; table-layout: fixed; font-size: .9rem; }
th, td { text-align: left; padding: .4rem .3rem; border-bottom: 1px solid var(--border);
  vertical-align: top; }
.open { color: #c62828; font-weight: 600; }
footer { margin: 2rem 0 1rem; }
a { color: var(--line); }
"""


def _monitor_html(view: MonitorView, now: float) -> str:
    kind = KIND_WORDS.get(view.kind, view.kind)
    meta = [esc(kind), esc(view.target)]
    if view.owner:
        meta.append(f"owner: {esc(view.owner)}")
    details = []
    if view.last_checked is not None:
        details.append(f"last checked {esc(when(view.last_checked))}")
    if view.state == "up" and view.last_failed:
        reason = f": {view.last_error}" if view.last_error else ""
        details.append(esc(f"the latest probe failed{reason} (not an outage yet)"))
    elif view.state == "down" and view.last_error:
        details.append(esc(f"latest error: {view.last_error}"))
    if view.open_incident is not None:
        details.append(esc(f"down for {duration_text(now - view.open_incident.since)}"))
    uptime = "".join(
        f"<div><dt>{esc(label)}</dt><dd>{esc(view.uptime[key].text)}</dd></div>"
        for key, label in (("24h", "24 h"), ("7d", "7 d"), ("90d", "90 d"))
    )
    p50 = "no data" if view.p50_ms is None else _ms(view.p50_ms)
    p95 = "no data" if view.p95_ms is None else _ms(view.p95_ms)
    return (
        f'<section class="monitor" id="monitor-{esc(view.slug)}">'
        f"<h2>{esc(view.name)}</h2>"
        f'<p class="state {esc(view.state)}">{esc(state_text(view))}</p>'
        f'<p class="meta">{" · ".join(meta)}</p>'
        + (f'<p class="muted">{" · ".join(details)}</p>' if details else "")
        + f'<dl class="uptime" aria-label="uptime">{uptime}</dl>'
        f"<figure>{chart_svg(view, now)}"
        f"<figcaption>Response time, last 24 h (successful probes): p50 {esc(p50)}, p95 {esc(p95)}"
        f"</figcaption></figure></section>"
    )


def _incident_row(incident: IncidentView) -> str:
    ended = "ongoing" if incident.ended is None else when(incident.ended)
    mark = ' <span class="open">(open)</span>' if incident.open else ""
    return (
        f"<tr><td>{esc(incident.monitor)}{mark}</td><td>{esc(when(incident.since))}</td>"
        f"<td>{esc(ended)}</td><td>{esc(duration_text(incident.duration_s))}</td></tr>"
    )


def index_html(summary: Summary) -> str:
    """The status page: one HTML document with everything inline."""
    now = summary.generated_at
    down = [view for view in summary.monitors if view.state == "down"]
    if not summary.monitors:
        overall = "No monitors are configured."
    elif down:
        overall = f"{len(down)} of {len(summary.monitors)} monitors down: " + ", ".join(v.name for v in down)
    elif all(view.state == "up" for view in summary.monitors):
        overall = "All monitors are up."
    else:
        overall = "No monitor is down."
    if summary.incidents:
        rows = "".join(_incident_row(incident) for incident in summary.incidents)
        incidents = (
            "<table><thead><tr><th>Monitor</th><th>Started</th><th>Ended</th><th>Duration</th></tr>"
            f"</thead><tbody>{rows}</tbody></table>"
        )
    else:
        incidents = '<p class="muted">No incidents in the last 90 days.</p>'
    monitors = "".join(_monitor_html(view, now) for view in summary.monitors)
    policy = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{policy}">'
        '<link rel="icon" href="data:,">'
        f"<title>Status</title><style>{_CSS}</style></head>\n"
        "<body><main><header><h1>Status</h1>"
        f'<p class="summary">{esc(overall)}</p>'
        f'<p class="muted">Updated {esc(when(now))}. Uptime counts the probes whose result says something '
        "about the service (a lost network of the monitor itself is left out).</p></header>\n"
        f"{monitors}\n"
        f'<section><h2 id="incidents">Incidents</h2>{incidents}</section>\n'
        '<footer class="muted">Written by <code>lr-ci uptime page</code>. Machine-readable: '
        '<a href="status.json">status.json</a>; badges in <code>badges/</code>.</footer>'
        "</main></body></html>\n"
    )


# -- the JSON summary -------------------------------------------------------------------------------------


def _incident_json(incident: IncidentView) -> dict[str, Any]:
    return {
        "id": incident.id,
        "monitor": incident.monitor,
        "since": iso(incident.since),
        "opened_at": iso(incident.opened_at),
        "ended": iso(incident.ended),
        "duration_s": round(incident.duration_s, 3),
        "open": incident.open,
        "reminders": incident.reminders,
    }


def status_json(summary: Summary) -> dict[str, Any]:
    """``status.json``: the page's numbers for machines (documented in docs/uptime.md)."""
    monitors = []
    for view in summary.monitors:
        uptime: dict[str, Any] = {}
        for key, window in view.uptime.items():
            points = window.basis_points
            uptime[key] = {
                "percent": None if points is None else points / 100,
                "up": window.up,
                "probes": window.counted,
            }
        monitors.append(
            {
                "name": view.name,
                "slug": view.slug,
                "kind": view.kind,
                "target": view.target,
                "owner": view.owner,
                "state": view.state,
                "since": iso(view.since),
                "last_checked": iso(view.last_checked),
                "uptime": uptime,
                "latency_ms": {
                    "p50": None if view.p50_ms is None else round(view.p50_ms, 1),
                    "p95": None if view.p95_ms is None else round(view.p95_ms, 1),
                },
                "open_incident": None if view.open_incident is None else _incident_json(view.open_incident),
                "badge": f"badges/{view.slug}.svg",
            }
        )
    return {
        "schema": SCHEMA,
        "generated_at": iso(summary.generated_at),
        "monitors": monitors,
        "incidents": [_incident_json(incident) for incident in summary.incidents],
    }


def site(summary: Summary) -> dict[str, tuple[str, bytes]]:
    """Every file of the status site by URL path: ``/`` (the page), ``/status.json`` and
    ``/badges/<slug>.svg`` per monitor, each with its content type."""
    files = {
        "/": (CONTENT_TYPES["html"], index_html(summary).encode("utf-8")),
        "/status.json": (
            CONTENT_TYPES["json"],
            (json.dumps(status_json(summary), indent=2) + "\n").encode("utf-8"),
        ),
    }
    for view in summary.monitors:
        files[f"/badges/{view.slug}.svg"] = (CONTENT_TYPES["svg"], badge_for(view).encode("utf-8"))
    return files


BADGE_FILE = re.compile(r"badges/[a-z0-9][a-z0-9-]{0,99}\.svg\Z")
"""A badge's path under ``--out`` as :func:`status_json` names it (``badges/<slug>.svg``): no ``/`` or
``..`` can pass, so no path a hand-edited ``status.json`` names reaches outside ``badges/``."""


def stale_badges(previous: Any, written: Iterable[str]) -> list[str]:
    """The badge files (paths under ``--out``) of monitors no longer configured: those the previous
    ``status.json`` (``previous``, as parsed) names and this site does not write (``written``, paths under
    ``--out``), in its order.

    ``status.json`` is the manifest: lr-ci writes it with the badges, naming each one, so what it names is
    what lr-ci wrote, and nothing else in the folder is ever named (a README, a badge of another tool,
    the files of a site the page is part of). A stale badge would otherwise be served forever, with the
    state it had when its monitor was removed ("up"). A ``status.json`` that is not lr-ci's (no
    :data:`SCHEMA`), damaged or hand-edited names nothing: only paths of the badge shape count.
    """
    if not isinstance(previous, dict) or previous.get("schema") != SCHEMA:
        return []
    monitors = previous.get("monitors")
    if not isinstance(monitors, list):
        return []
    keep = set(written)
    stale: list[str] = []
    for monitor in monitors:
        badge = monitor.get("badge") if isinstance(monitor, dict) else None
        if isinstance(badge, str) and BADGE_FILE.match(badge) and badge not in keep and badge not in stale:
            stale.append(badge)
    return stale


def file_name(path: str) -> str:
    """Where a site path is written under ``--out``: ``/`` is ``index.html``."""
    return "index.html" if path == "/" else path.lstrip("/")
