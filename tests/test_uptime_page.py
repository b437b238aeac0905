"""``lr-ci uptime page``: the static status page, its badges and status.json, from a real state file.

The store is written through the real :class:`Store` and the real rule over 95 simulated days (probes
every 15 minutes at injected times), then compacted: the numbers of the 7 d and 90 d windows come from the
hourly aggregates, those of 24 h from raw results. The page is opened from the file system in headless
Chromium; the credentials test runs real probes (a login flow, SMTP with AUTH) before writing the page.
"""

from __future__ import annotations

import base64
import json
import re
import signal
import sqlite3
import struct
import subprocess
import threading
import time
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme
import yaml

from helpers.browser import chromium
from helpers.cli import Cli, lr_ci_executable
from helpers.opsapp_server import RunningApp
from helpers.uptime_servers import (
    SECRET,
    SMTP_PASSWORD,
    credentials_config,
    free_port,
    smtp_server,
    webhook_receiver,
)
from lr_ci.checks.uptime import page
from lr_ci.checks.uptime.monitor import Monitor
from lr_ci.checks.uptime.plan import PlannedMonitor, ProbeKind
from lr_ci.checks.uptime.rule import Evaluator, Outcome, Rule
from lr_ci.checks.uptime.state import ProbeResult, Store
from lr_ci.checks.uptime.summary import Summary, Uptime, percentile, read, slugs

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "examples" / "workflows" / "uptime-pages.yml"

DAY = 86_400.0
# 95 days ago, on a whole hour (the aggregates' hours are whole from here), so that ``lr-ci uptime page``,
# which reads the clock, sees the same store as the tests that pass NOW: its windows start at most an hour
# (plus the test's time) later, which no probe of interest sits in.
T0 = (time.time() // 3600) * 3600 - 95 * 86_400.0
INTERVAL = 900.0
OFFSET = 60.0  # probes start a minute past the quarter hour: no probe sits on a window's edge
NOW = T0 + 95 * DAY
LAST = int((95 * DAY - OFFSET) // INTERVAL)  # the index of the latest probe (9119)
RULE = Rule(interval=INTERVAL, timeout=10, failures=2, window=3600, recover_after=2)
RETENTION = 2 * DAY
HOMEPAGE, API, LOGIN, MAIL = "homepage", "API <health> & co", "login works", "outgoing mail"


def started(k: int) -> float:
    return T0 + OFFSET + k * INTERVAL


def day_index(day: float) -> int:
    """The first probe that starts at or after ``day``."""
    return int(-(-(day * DAY - OFFSET) // INTERVAL))


# What happens to whom, by probe index.
HOMEPAGE_DOWN = (
    set(range(day_index(2), day_index(2) + 4))  # A: day 2, outside the 90 d window
    | set(range(day_index(45), day_index(45) + 8))  # B: day 45, 2 h, aggregated
    | set(range(day_index(92), day_index(92) + 2))  # C: day 92, 30 min, aggregated (past the retention)
    | {day_index(94.5)}  # D: one failure in the last 24 h: no incident
)
API_DOWN = set(range(LAST - 3, LAST + 1))  # down now: the last hour
LOGIN_FROM = day_index(88)
LOGIN_DOWN = {day_index(89)}
LOGIN_NETWORK = {day_index(90), day_index(94.5)} | set(range(LAST - 2, LAST + 1))


def latency(name: str, k: int) -> float:
    if name == HOMEPAGE and k > LAST - 5:
        return 0.3
    return 0.1


def build_store(path: Path) -> None:
    """95 days of probes through the real rule into the real store, then compacted as rounds do."""
    evaluator = Evaluator({HOMEPAGE: RULE, API: RULE})
    with Store.open(path, lambda text: text) as store:
        for day in range(96):
            results: list[ProbeResult] = []
            verdicts_judged: list[Any] = []
            events: list[Any] = []
            for k in range(day_index(day), min(day_index(day + 1), LAST + 1)):
                at = started(k)
                for name, down in ((HOMEPAGE, HOMEPAGE_DOWN), (API, API_DOWN)):
                    up = k not in down
                    done = at + latency(name, k)
                    verdicts = evaluator.observe(name, at, done, up)
                    verdicts_judged += verdicts.judged
                    events += verdicts.events
                    status = 200 if up else 503
                    results.append(ProbeResult(name, at, done, up, "up" if up else "down", status))
                if k >= LOGIN_FROM:
                    outcome: Outcome = (
                        "network" if k in LOGIN_NETWORK else "down" if k in LOGIN_DOWN else "up"
                    )
                    results.append(ProbeResult(LOGIN, at, at + 0.2, outcome == "up", outcome))
            if results:
                store.record(
                    now=results[-1].finished,
                    results=results,
                    judged=verdicts_judged,
                    events=events,
                    targets=("hook",),
                )
        store.compact(NOW, RETENTION)


def planned(name: str, kind: ProbeKind, target: str, owner: str | None = None) -> PlannedMonitor:
    def never() -> Any:
        raise AssertionError("the page never probes")

    return PlannedMonitor(Monitor(name, never, owner), RULE, kind, target)


MONITORS = (
    planned(HOMEPAGE, "http", "https://ops.example.com/", "web team"),
    planned(API, "http", "https://ops.example.com/api/health"),
    planned(LOGIN, "flow", "https://ops.example.com (flow login)"),
    planned(MAIL, "smtp", "smtp://mail.example.com:587"),
)


@pytest.fixture(scope="module")
def state_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("state") / "uptime.sqlite"
    build_store(path)
    return path


@pytest.fixture(scope="module")
def summary(state_file: Path) -> Summary:
    with Store.open(state_file, lambda text: text, lock=False) as store:
        return read(MONITORS, store, NOW, lambda text: text)


def views(summary: Summary) -> dict[str, Any]:
    return {view.name: view for view in summary.monitors}


# -- the numbers -----------------------------------------------------------------------------------------


def test_the_store_holds_aggregates_beyond_the_retention_and_raw_results_within(state_file: Path) -> None:
    with Store.open(state_file, lambda text: text, lock=False) as store:
        raw = store.results(HOMEPAGE)
        hourly = store.hourly(HOMEPAGE)
    assert raw[0].started >= NOW - RETENTION - 3600 and len(raw) <= 2 * 96 + 4
    assert hourly[0].hour == T0 and hourly[-1].hour < raw[0].started
    assert sum(hour.probes for hour in hourly) + len(raw) == LAST + 1


def test_uptime_per_window_is_exact_from_raw_results_and_hourly_aggregates(summary: Summary) -> None:
    shown = views(summary)
    homepage = shown[HOMEPAGE].uptime
    # 24 h: 96 raw probes, D failed. 7 d: 672 probes (aggregated but the last 2 days), C and D failed.
    # 90 d: 8640 probes, B, C and D failed; A (day 2) is outside every window.
    assert homepage == {"24h": Uptime(95, 96), "7d": Uptime(669, 672), "90d": Uptime(8629, 8640)}
    assert [homepage[key].text for key in ("24h", "7d", "90d")] == ["98.95%", "99.55%", "99.87%"]
    api = shown[API].uptime
    assert api == {"24h": Uptime(92, 96), "7d": Uptime(668, 672), "90d": Uptime(8636, 8640)}
    # Network outcomes count in neither the numerator nor the denominator, raw or aggregated (day 90).
    login = shown[LOGIN].uptime
    assert login["24h"] == Uptime(92, 92)
    assert login["7d"] == login["90d"] == Uptime(666, 667)
    assert login["24h"].text == "100%" and login["7d"].text == "99.85%"
    mail = shown[MAIL].uptime
    assert all(window == Uptime(0, 0) and window.text == "no data" for window in mail.values())


def test_uptime_text_is_floored_never_rounded_up_to_100() -> None:
    assert Uptime(9_999, 10_000).text == "99.99%"
    assert Uptime(99_999, 100_000).text == "99.99%"  # not "100.00%"
    assert Uptime(1, 1).text == "100%" and Uptime(0, 3).text == "0%" and Uptime(0, 0).percent is None
    assert percentile([5, 1, 3], 50) == 3 and percentile([], 95) is None


def test_each_monitor_has_its_state_and_since_when(summary: Summary) -> None:
    shown = views(summary)
    assert shown[HOMEPAGE].state == "up" and shown[HOMEPAGE].since is None
    assert shown[API].state == "down" and shown[API].since == started(LAST - 3)
    assert shown[LOGIN].state == "network" and shown[LOGIN].since == started(LAST - 2)
    assert shown[MAIL].state == "unknown" and shown[MAIL].last_checked is None
    assert shown[HOMEPAGE].last_checked == pytest.approx(started(LAST) + 0.3)
    assert page.state_text(shown[API]) == f"Down since {page.when(started(LAST - 3))}"


def test_response_times_over_24_hours_are_of_successful_probes(summary: Summary) -> None:
    homepage = views(summary)[HOMEPAGE]
    assert len(homepage.samples) == 96 and homepage.samples[0].started >= NOW - DAY
    # 95 successes: 90 at 100 ms, 5 at 300 ms (nearest rank: p50 is the 48th, p95 the 91st).
    assert homepage.p50_ms == pytest.approx(100.0) and homepage.p95_ms == pytest.approx(300.0)
    assert views(summary)[MAIL].p50_ms is None


def test_incidents_have_start_end_and_duration_and_the_open_one_is_marked(summary: Summary) -> None:
    rows = [(i.monitor, i.since, i.ended, i.duration_s, i.open) for i in summary.incidents]
    b, c = started(day_index(45)), started(day_index(92))
    assert rows == [
        (API, started(LAST - 3), None, pytest.approx(NOW - started(LAST - 3)), True),
        (HOMEPAGE, c, c + 1800, 1800.0, False),
        (HOMEPAGE, b, b + 7200, 7200.0, False),
    ]  # A (day 2) recovered more than 90 days ago: out of the history
    api = views(summary)[API]
    assert api.open_incident is not None and api.open_incident.open
    assert page.duration_text(7200) == "2 h" and page.duration_text(1800) == "30 min"
    assert page.duration_text(3 * DAY + 4 * 3600 + 5) == "3 d 4 h" and page.duration_text(200) == "3 min 20 s"


# -- the files -------------------------------------------------------------------------------------------


def test_the_site_has_the_page_the_json_and_a_valid_badge_per_monitor(summary: Summary) -> None:
    files = page.site(summary)
    assert sorted(files) == [
        "/",
        "/badges/api-health-co.svg",
        "/badges/homepage.svg",
        "/badges/login-works.svg",
        "/badges/outgoing-mail.svg",
        "/status.json",
    ]
    assert files["/"][0] == "text/html; charset=utf-8" and files["/status.json"][0] == "application/json"
    for path, (content_type, body) in files.items():
        if path.startswith("/badges/"):
            assert content_type == "image/svg+xml"
            root = ET.fromstring(body)
            assert root.tag == "{http://www.w3.org/2000/svg}svg" and root.get("height") == "20"
    badge = ET.fromstring(files["/badges/homepage.svg"][1])
    texts = [t.text for t in badge.iter("{http://www.w3.org/2000/svg}text")]
    assert texts == ["homepage", "homepage", "up 99.87%", "up 99.87%"]
    assert "#dfb317" in files["/badges/homepage.svg"][1].decode()  # 99.87%: yellow (green from 99.9%)
    api = ET.fromstring(files["/badges/api-health-co.svg"][1])
    assert api.get("aria-label") == "API <health> & co: down 99.95%"  # escaped in the file, parsed back
    assert "#e05d44" in files["/badges/api-health-co.svg"][1].decode()
    assert b"&lt;health&gt; &amp; co" in files["/"][1] and b"<health>" not in files["/"][1]
    # Nothing that could make a request: no script, no reference but a data: URL, a relative link and
    # SVG fragments (the browser test proves it with the network log).
    for path, (_type, body) in files.items():
        text = body.decode()
        assert "<script" not in text and "@import" not in text and "srcset" not in text, path
        assert set(re.findall(r'(?:src|href)="([^"]*)"', text)) <= {"data:,", "status.json"}, path
        assert set(re.findall(r"url\(([^)]*)\)", text)) <= {"#r", "#s"}, path
    assert "default-src 'none'" in files["/"][1].decode()  # and the browser is told so


def test_status_json_has_the_documented_keys(summary: Summary) -> None:
    status = json.loads(page.site(summary)["/status.json"][1])
    assert set(status) == {"schema", "generated_at", "monitors", "incidents"}
    assert status["schema"] == "lr-ci.uptime-status/1" and status["generated_at"] == page.iso(NOW)
    homepage = status["monitors"][0]
    assert set(homepage) == {
        "name",
        "slug",
        "kind",
        "target",
        "owner",
        "state",
        "since",
        "last_checked",
        "uptime",
        "latency_ms",
        "open_incident",
        "badge",
    }
    assert homepage["uptime"]["90d"] == {"percent": 99.87, "up": 8629, "probes": 8640}
    assert homepage["latency_ms"] == {"p50": 100.0, "p95": 300.0} and homepage["owner"] == "web team"
    assert homepage["badge"] == "badges/homepage.svg" and homepage["open_incident"] is None
    api = status["monitors"][1]
    assert api["state"] == "down" and api["open_incident"]["open"] is True
    assert set(status["incidents"][0]) == {
        "id",
        "monitor",
        "since",
        "opened_at",
        "ended",
        "duration_s",
        "open",
        "reminders",
    }
    assert [i["duration_s"] for i in status["incidents"][1:]] == [1800.0, 7200.0]
    assert status["monitors"][3]["uptime"]["24h"] == {"percent": None, "up": 0, "probes": 0}


def test_slugs_are_unique_file_names_and_text_is_escaped_for_xml() -> None:
    assert slugs(["API health", "api-health", "Ünïcode", "***", "a/../b"]) == [
        "api-health",
        "api-health-2",
        "unicode",
        "monitor",
        "a-b",
    ]
    badge = page.badge_svg("bell\x07 <x>", "up 100%", page.BADGE_GREEN)
    assert ET.fromstring(badge).get("aria-label") == "bell\ufffd <x>: up 100%"


# -- the command -----------------------------------------------------------------------------------------


def config_for_the_constructed_store(tmp_path: Path, state: Path) -> Path:
    path = tmp_path / "lr-ci.toml"
    path.write_text(
        f"""
[uptime]
state = "{state}"
interval = "15m"
window = "1h"

[[uptime.monitors]]
name = "{HOMEPAGE}"
url = "https://ops.example.com/"
owner = "web team"

[[uptime.monitors]]
name = "{API}"
url = "https://ops.example.com/api/health"

[[uptime.monitors]]
name = "{LOGIN}"
url = "https://ops.example.com/login"

[[uptime.monitors]]
name = "{MAIL}"
smtp = "mail.example.com:587"
"""
    )
    return path


@dataclass
class Written:
    out: Path
    report: dict[str, Any]


@pytest.fixture
def written(tmp_path: Path, cli: Cli, state_file: Path) -> Written:
    """``lr-ci uptime page`` on the constructed store (copied: the module's file stays as it was)."""
    state = tmp_path / "state" / "uptime.sqlite"
    state.parent.mkdir()
    state.write_bytes(state_file.read_bytes())
    config = config_for_the_constructed_store(tmp_path, state)
    out = tmp_path / "site"
    result = cli("--config", str(config), "uptime", "page", "--out", str(out), "--format", "json")
    assert result.code == 0, result.err
    return Written(out, result.json())


def test_the_command_writes_the_site_and_reports_it(written: Written) -> None:
    names = sorted(str(p.relative_to(written.out)) for p in written.out.rglob("*") if p.is_file())
    assert names == [
        "badges/api-health-co.svg",
        "badges/homepage.svg",
        "badges/login-works.svg",
        "badges/outgoing-mail.svg",
        "index.html",
        "status.json",
    ]
    report = written.report
    assert report["status"] == "pass" and report["check"] == "uptime"
    assert report["metrics"]["monitors"] == 4 and report["metrics"]["down"] == 1
    assert sorted(report["metrics"]["files"]) == names
    [table] = report["tables"]  # the markdown step summary shows it in Actions
    assert [row[:2] for row in table["rows"]] == [
        [HOMEPAGE, "Up"],
        [API, f"Down since {page.when(started(LAST - 3))}"],
        [
            LOGIN,
            f"Network lost since {page.when(started(LAST - 2))} (the monitor's own network, not the service)",
        ],
        [MAIL, "Unknown (not probed yet)"],
    ]
    status = json.loads((written.out / "status.json").read_text())
    assert [m["state"] for m in status["monitors"]] == ["up", "down", "network", "unknown"]


def test_the_page_is_read_while_a_run_holds_the_state_file(
    tmp_path: Path, cli: Cli, state_file: Path
) -> None:
    """``lr-ci uptime run`` holds the run lock for as long as it runs: the page reads without it."""
    state = tmp_path / "uptime.sqlite"
    state.write_bytes(state_file.read_bytes())
    config = config_for_the_constructed_store(tmp_path, state)
    with Store.open(state, lambda text: text):  # the lock, held as a running monitor holds it
        result = cli("--config", str(config), "uptime", "page", "--out", str(tmp_path / "site"))
    assert result.code == 0, result.err
    assert (tmp_path / "site" / "index.html").stat().st_size > 0


def test_the_page_is_read_while_a_writer_is_inside_a_transaction(
    tmp_path: Path, cli: Cli, state_file: Path
) -> None:
    """WAL: a round being written (a write transaction open, not committed) neither blocks the page nor
    shows on it half-done."""
    state = tmp_path / "uptime.sqlite"
    state.write_bytes(state_file.read_bytes())
    config = config_for_the_constructed_store(tmp_path, state)
    writer = sqlite3.connect(state, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("DELETE FROM incidents")  # uncommitted: the page still sees the open incident
        result = cli("--config", str(config), "uptime", "page", "--out", str(tmp_path / "site"))
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert result.code == 0, result.err
    status = json.loads((tmp_path / "site" / "status.json").read_text())
    assert status["monitors"][1]["state"] == "down" and len(status["incidents"]) == 3


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _wait_for_state(cli: Cli, config: Path, out: Path, state: str, timeout_s: float = 15.0) -> dict[str, Any]:
    """Write the page until the monitor shows ``state`` (bounded), and return its status.json."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = cli("--config", str(config), "uptime", "page", "--out", str(out))
        if result.code == 0:
            status: dict[str, Any] = json.loads((out / "status.json").read_text())
            if status["monitors"][0]["state"] == state:
                return status
        else:
            assert "no state file" in result.err, result.err  # before the run's first round only
        assert time.monotonic() < deadline, f"the page never showed {state!r}: {result.err}"
        time.sleep(0.2)


def test_the_page_of_a_running_monitor_follows_it(tmp_path: Path, cli: Cli) -> None:
    """A real ``lr-ci uptime run`` probing a real server every 0.5 s holds the state file; the page is
    written from it meanwhile: up, then down with its incident once the server is gone."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    config = tmp_path / "lr-ci.toml"
    config.write_text(
        f"""
[uptime]
interval = 0.5
timeout = 0.4
failures = 2
window = 2

[[uptime.monitors]]
name = "api"
url = "http://127.0.0.1:{server.server_address[1]}/health"
"""
    )
    log = tmp_path / "run.log"
    listen = f"127.0.0.1:{free_port()}"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [lr_ci_executable(), "--config", str(config), "uptime", "run", "--listen", listen],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        out = tmp_path / "site"
        up = _wait_for_state(cli, config, out, "up")
        assert up["monitors"][0]["uptime"]["24h"]["percent"] == 100.0
        # `run --listen` serves the same site live, next to /metrics.
        with urllib.request.urlopen(f"http://{listen}/status.json", timeout=10) as answer:
            live = json.loads(answer.read())
        assert [m["name"] for m in live["monitors"]] == ["api"]
        with urllib.request.urlopen(f"http://{listen}/", timeout=10) as answer:
            assert answer.headers["Content-Type"].startswith("text/html") and b"api" in answer.read()
        slug = up["monitors"][0]["badge"].rsplit("/", 1)[-1]
        with urllib.request.urlopen(f"http://{listen}/badges/{slug}", timeout=10) as answer:
            ET.fromstring(answer.read())
        server.shutdown()
        server.server_close()
        down = _wait_for_state(cli, config, out, "down")
        assert down["incidents"][0]["open"] is True and down["monitors"][0]["open_incident"] is not None
        assert "Down since" in (out / "index.html").read_text()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        server.server_close()
    assert process.returncode == 0, log.read_text()


def test_flow_monitors_are_shown_at_the_base_url_given_as_to_check(
    tmp_path: Path, cli: Cli, state_file: Path
) -> None:
    state = tmp_path / "uptime.sqlite"
    state.write_bytes(state_file.read_bytes())
    config = tmp_path / "lr-ci.toml"
    config.write_text(
        f"""
[[smoke.flows.login.steps]]
path = "/login"

[uptime]
state = "{state}"

[[uptime.monitors]]
name = "{LOGIN}"
flow = "login"
"""
    )
    out = tmp_path / "site"
    missing = cli("--config", str(config), "uptime", "page", "--out", str(out))
    assert missing.code == 2 and "base URL" in missing.err and len(missing.err.splitlines()) == 1
    given = "https://probe:base-url-pa55@ops.example.com"
    result = cli("--config", str(config), "uptime", "page", "--out", str(out), "--base-url", given)
    assert result.code == 0, result.err
    status = json.loads((out / "status.json").read_text())
    target = status["monitors"][0]["target"]
    assert target.startswith("https://") and target.endswith("ops.example.com (flow login)"), target
    assert all(b"base-url-pa55" not in p.read_bytes() for p in out.rglob("*") if p.is_file())


def test_no_state_file_yet_is_exit_2_saying_what_to_run(tmp_path: Path, cli: Cli) -> None:
    state = tmp_path / "nothing" / "uptime.sqlite"
    config = config_for_the_constructed_store(tmp_path, state)
    result = cli("--config", str(config), "uptime", "page", "--out", str(tmp_path / "site"))
    assert result.code == 2
    assert result.err.strip().splitlines() == [
        f"lr-ci uptime: error: no state file at {state}: run `lr-ci uptime check --once` or `run` first"
    ]
    assert not state.exists() and not (tmp_path / "site").exists()


def test_a_corrupt_state_file_is_exit_2_in_one_line(tmp_path: Path, cli: Cli) -> None:
    state = tmp_path / "uptime.sqlite"
    state.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    config = config_for_the_constructed_store(tmp_path, state)
    result = cli("--config", str(config), "uptime", "page", "--out", str(tmp_path / "site"))
    assert result.code == 2
    [line] = result.err.strip().splitlines()
    assert str(state) in line and "Traceback" not in result.err


def test_the_out_folder_must_be_writable(tmp_path: Path, cli: Cli, state_file: Path) -> None:
    state = tmp_path / "uptime.sqlite"
    state.write_bytes(state_file.read_bytes())
    config = config_for_the_constructed_store(tmp_path, state)
    blocker = tmp_path / "site"
    blocker.write_text("a file where the folder should be")
    result = cli("--config", str(config), "uptime", "page", "--out", str(blocker / "deeper"))
    assert result.code == 2
    [line] = result.err.strip().splitlines()
    assert "cannot write the status page" in line


# -- badges of monitors removed from the config ----------------------------------------------------------


def _monitors_config(path: Path, names: list[str], port: int) -> Path:
    monitors = "".join(
        f"[[uptime.monitors]]\nname = '{name}'\nurl = 'http://127.0.0.1:{port}/'\n\n" for name in names
    )
    path.write_text(f"[uptime]\nstate = 'uptime.sqlite'\n\n{monitors}")
    return path


def _page(cli: Cli, config: Path, out: Path) -> dict[str, Any]:
    result = cli("--config", str(config), "uptime", "page", "--out", str(out), "--format", "json")
    assert result.code == 0, result.err
    report: dict[str, Any] = result.json()
    return report


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_the_badge_of_a_removed_monitor_is_removed_and_nothing_else(tmp_path: Path, cli: Cli) -> None:
    """Two monitors, the page written, one dropped from lr-ci.toml, the page written again: its badge is
    gone (it would keep saying "up" forever), the other's stays, and so do files lr-ci did not write, in
    the folder and in ``badges/`` (status.json, the manifest, never named them)."""
    port = free_port()  # nothing listens: each probe fails, which is a state like any other
    config = _monitors_config(tmp_path / "lr-ci.toml", ["API health", "Web"], port)
    assert cli("--config", str(config), "uptime", "check", "--once").code in (0, 1)
    out = tmp_path / "site"
    first = _page(cli, config, out)
    assert first["metrics"]["removed"] == []
    (out / "README.md").write_text("published with the status page\n")
    (out / "badges" / "custom.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>\n")
    (out / "badges" / "web.png").write_bytes(b"\x89PNG not lr-ci's")
    assert _files(out) == [
        "README.md",
        "badges/api-health.svg",
        "badges/custom.svg",
        "badges/web.png",
        "badges/web.svg",
        "index.html",
        "status.json",
    ]
    _monitors_config(config, ["API health"], port)
    second = _page(cli, config, out)
    assert second["metrics"]["removed"] == ["badges/web.svg"]
    assert _files(out) == [
        "README.md",
        "badges/api-health.svg",
        "badges/custom.svg",
        "badges/web.png",
        "index.html",
        "status.json",
    ]
    status = json.loads((out / "status.json").read_text())
    assert [m["badge"] for m in status["monitors"]] == ["badges/api-health.svg"]
    assert _page(cli, config, out)["metrics"]["removed"] == []  # the manifest names only what is there


def test_a_monitor_renamed_to_the_same_slug_keeps_its_badge_and_without_a_manifest_nothing_goes(
    tmp_path: Path, cli: Cli
) -> None:
    port = free_port()
    config = _monitors_config(tmp_path / "lr-ci.toml", ["Web", "Mail"], port)
    assert cli("--config", str(config), "uptime", "check", "--once").code in (0, 1)
    out = tmp_path / "site"
    _page(cli, config, out)
    _monitors_config(config, ["WEB", "Mail"], port)  # another name, the same file: badges/web.svg
    assert _page(cli, config, out)["metrics"]["removed"] == []
    assert (out / "badges" / "web.svg").is_file()
    (out / "status.json").write_text("{ not json")  # damaged: it no longer says what lr-ci wrote
    _monitors_config(config, ["WEB"], port)
    assert _page(cli, config, out)["metrics"]["removed"] == []
    assert (out / "badges" / "mail.svg").is_file()  # left, as a file lr-ci cannot tell it wrote


def test_stale_badges_are_only_badge_paths_an_lr_ci_status_json_names() -> None:
    """The pure rule: what the previous status.json names, of the badge shape, and this site does not
    write; a file of another tool, a hand-edited path out of ``badges/``, a foreign JSON name nothing."""

    def status(*badges: object) -> dict[str, Any]:
        return {"schema": page.SCHEMA, "monitors": [{"badge": badge} for badge in badges]}

    written = ["index.html", "status.json", "badges/api.svg"]
    assert page.stale_badges(status("badges/api.svg", "badges/web.svg"), written) == ["badges/web.svg"]
    assert page.stale_badges(status("badges/web.svg", "badges/web.svg"), written) == ["badges/web.svg"]
    hostile = (
        "badges/../index.html",
        "../outside.svg",
        "/etc/passwd",
        "badges/sub/x.svg",
        "badges/x.svg.bak",
        "status.json",
        "index.html",
        "badges/.hidden.svg",
        "badges/UPPER.svg",
        "badges/" + "a" * 200 + ".svg",
        None,
        42,
        ["badges/web.svg"],
    )
    assert page.stale_badges(status(*hostile), written) == []
    assert page.stale_badges({"monitors": [{"badge": "badges/web.svg"}]}, written) == []  # no schema
    assert page.stale_badges({**status("badges/web.svg"), "schema": "other/1"}, written) == []
    malformed: tuple[object, ...] = (
        None,
        [],
        "x",
        {"schema": page.SCHEMA},
        {"schema": page.SCHEMA, "monitors": {}},
    )
    for previous in malformed:
        assert page.stale_badges(previous, written) == []
    assert page.stale_badges({"schema": page.SCHEMA, "monitors": ["badges/web.svg", None]}, written) == []


# -- in a browser ----------------------------------------------------------------------------------------


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _requests(driver: Any) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def test_the_status_page_in_headless_chromium(written: Written, tmp_path: Path) -> None:
    index = written.out / "index.html"
    url = index.as_uri()
    with chromium(performance_log=True) as driver:
        driver.get_log("performance")  # what starting the browser did is not the page's
        driver.get(url)
        from selenium.webdriver.common.by import By

        text = driver.find_element(By.TAG_NAME, "body").text
        for name in (HOMEPAGE, API, LOGIN, MAIL):
            assert name in text, name
        assert f"Down since {page.when(started(LAST - 3))}" in text
        assert f"Network lost since {page.when(started(LAST - 2))}" in text
        assert "Unknown (not probed yet)" in text and "no data" in text
        incidents = text[text.index("Incidents") :]
        b, c = started(day_index(45)), started(day_index(92))
        for row in (
            f"{API} (open) {page.when(started(LAST - 3))} ongoing",
            f"{HOMEPAGE} {page.when(c)} {page.when(c + 1800)} 30 min",
            f"{HOMEPAGE} {page.when(b)} {page.when(b + 7200)} 2 h",
        ):
            assert row in incidents, row
        # The chart's axes: the response-time scale and the times.
        assert driver.find_elements(By.CSS_SELECTOR, "svg.chart polyline")
        # 100 ms, and 300 ms at the end: the scale goes to 500 ms; the times end at the page's time.
        generated = json.loads((written.out / "status.json").read_text())["generated_at"]
        assert "0 ms" in text and "250 ms" in text and "500 ms" in text and generated[11:16] in text

        size = driver.execute_script("return [window.innerWidth, window.innerHeight, devicePixelRatio]")
        shot = driver.get_screenshot_as_png()
        (tmp_path / "status-page.png").write_bytes(shot)
        assert len(shot) > 10_000
        assert _png_size(shot) == (round(size[0] * size[2]), round(size[1] * size[2]))

        requests = _requests(driver)
        assert requests and all(request == url for request in requests), requests

        # A phone: no horizontal scrolling (the viewport meta and the fluid layout).
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True},
        )
        driver.get(url)
        widths = driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
        assert widths[1] == 390 and widths[0] <= widths[1], widths
        phone = driver.get_screenshot_as_png()
        (tmp_path / "status-page-phone.png").write_bytes(phone)
        assert _png_size(phone) == (780, 1688)
        assert all(request == url for request in _requests(driver))


# -- credentials -----------------------------------------------------------------------------------------


def test_credentials_never_reach_the_page_the_badges_or_the_json(
    tmp_path: Path, cli: Cli, opsapp: Any, ca: trustme.CA, ca_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A login flow whose failure would quote its password, and an SMTP probe with AUTH, probed for real;
    then the page: neither password nor the webhook's secret is in any byte written."""
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    monkeypatch.setenv("SMTP_PASSWORD", SMTP_PASSWORD)
    monkeypatch.setenv("OPS_USER", "ops")
    monkeypatch.setenv("OPS_PASSWORD", "ops-demo-password")
    app: RunningApp = opsapp()
    with smtp_server(ca) as (smtp_port, _sink), webhook_receiver() as (hook, _receiver):
        path = tmp_path / "lr-ci.toml"
        path.write_text(credentials_config(app.url, smtp_port, hook, ca_file))
        for _ in range(2):
            assert cli("--config", str(path), "uptime", "check", "--once").code == 1
        out = tmp_path / "site"
        result = cli("--config", str(path), "uptime", "page", "--out", str(out), "--format", "json")
    assert result.code == 0, result.err
    status = json.loads((out / "status.json").read_text())
    states = {m["name"]: m["state"] for m in status["monitors"]}
    assert states == {"login works": "down", "outgoing mail": "up", "mail, wrong user": "down"}
    assert "***" in (out / "index.html").read_text()  # the login failure's text, masked
    written = [p.read_bytes() for p in out.rglob("*") if p.is_file()]
    assert len(written) == 5
    for credential in ("ops-demo-password", SMTP_PASSWORD, SECRET):
        forms = {credential.encode(), base64.b64encode(credential.encode())}
        for content in [*written, result.out.encode(), result.err.encode()]:
            assert not any(form in content for form in forms), credential


# -- the example workflow --------------------------------------------------------------------------------


def _workflow() -> dict[Any, Any]:
    loaded = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(loaded, dict)
    return loaded


def _steps(job: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from job["steps"]


def test_the_pages_workflow_writes_the_page_after_the_round_and_deploys_it() -> None:
    workflow = _workflow()
    assert workflow[True]["schedule"] == [{"cron": "*/5 * * * *"}]
    assert workflow["concurrency"] == {"group": "lr-ci-uptime", "cancel-in-progress": False}
    assert workflow["permissions"] == {}
    uptime, deploy = workflow["jobs"]["uptime"], workflow["jobs"]["deploy"]
    steps = list(_steps(uptime))
    uses = [str(step.get("uses", "")).split("@")[0] for step in steps]
    check = uses.index("lr-ci/lr-ci/actions/uptime")
    assert steps[check]["with"]["state"] == ".lr-ci/uptime.sqlite"
    [page_step] = [step for step in steps if "uptime page" in str(step.get("run", ""))]
    index = steps.index(page_step)
    assert check < index < uses.index("actions/upload-pages-artifact")
    assert page_step["if"] == "always()"  # the page matters most while an incident fails the round
    assert re.search(r"uptime page --out site\b", page_step["run"])
    assert "${{" not in page_step["run"]  # inputs and secrets reach the script through env only
    upload = steps[uses.index("actions/upload-pages-artifact")]
    assert upload["with"]["path"] == "site" and upload["if"] == "always()"
    assert deploy["needs"] == "uptime" and deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages" and deploy["if"] == "${{ !cancelled() }}"
    # The page reads the config, so it gets the credentials the round gets (job-level env, masked).
    assert "SMTP_PASSWORD" in uptime["env"] and "env" not in page_step
    assert [str(s["uses"]).split("@")[0] for s in deploy["steps"]] == ["actions/deploy-pages"]


def test_every_action_of_the_pages_workflow_is_pinned_by_commit_sha() -> None:
    workflow = _workflow()
    pinned = [
        str(step["uses"]) for job in workflow["jobs"].values() for step in job["steps"] if "uses" in step
    ]
    assert len(pinned) == 6
    text = WORKFLOW.read_text()
    for uses in pinned:
        assert re.fullmatch(r"[\w./-]+@[0-9a-f]{40}", uses), uses
        assert re.search(rf"{re.escape(uses)} # v\d", text), uses
