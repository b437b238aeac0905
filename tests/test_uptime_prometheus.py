"""``lr-ci uptime run --listen``: Prometheus metrics and the listener, and the alerting rule of docs/uptime.md
proven on a real Prometheus (Debian's ``prometheus``) scraping a real ``lr-ci uptime run`` process that probes
a real HTTP service on loopback which fails once, goes down (its listening socket closed) and comes back.

Without the ``prometheus`` binary the end-to-end test skips, unless ``LR_CI_REQUIRE_REFERENCE_TOOLS`` is set
(``.ci/run`` sets it and installs the package): then it fails. Every wait is bounded."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from helpers.cli import ROOT, Cli, lr_ci_executable
from helpers.uptime_servers import (
    SECRET,
    SINK,
    SMTP_PASSWORD,
    SMTP_USER,
    free_port,
    smtp_server,
    webhook_receiver,
)
from lr_ci.checks.uptime.listener import ListenAddress, Listener, Page, parse_listen
from lr_ci.checks.uptime.metrics import UptimeMetrics
from lr_ci.checks.uptime.monitor import Finished, Monitor
from lr_ci.checks.uptime.notify import Sent
from lr_ci.checks.uptime.plan import Plan, PlannedMonitor
from lr_ci.checks.uptime.probes import ProbeResult
from lr_ci.checks.uptime.rule import Judged, Rule
from lr_ci.checks.uptime.runner import serve
from lr_ci.checks.uptime.settings import CONTROL_NAME
from lr_ci.checks.uptime.state import Delivery, Store

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
USERINFO_PASSWORD = "userinfo-pa55-not-shown"
CREDENTIALS = (SECRET, SMTP_PASSWORD, USERINFO_PASSWORD)
ALERT = "UptimeChecksFailing"


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll ``condition`` until true; the seconds it took. Fails after ``timeout`` naming ``what``."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.1)
    return time.monotonic() - started


def get(url: str, timeout: float = 2.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:  # loopback only
            return int(answer.status), answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except (urllib.error.URLError, OSError) as error:
        return 0, str(error)  # not listening (yet, or any more)


def samples(text: str) -> dict[tuple[str, str], float]:
    """``(sample name, monitor)`` -> value, from the exposition text (prometheus-client's own parser)."""
    found: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[sample.name, sample.labels.get("monitor", "")] = sample.value
    return found


# -- the metrics, fed what the loop settles -----------------------------------------------------------------


def test_metrics_count_probes_and_failures_but_not_network_outcomes() -> None:
    metrics = UptimeMetrics([("api", "http"), ("mail", "smtp")])
    start = samples(metrics.render().decode())
    assert (
        start["lr_ci_uptime_probe_failures_total", "api"] == 0
    )  # exists at 0: a first failure is an increase
    assert start["lr_ci_uptime_incident_open", "mail"] == 0 and start["lr_ci_uptime_open_incidents", ""] == 0
    failed = ProbeResult(False, 0.25, 500, "status", "HTTP 500")
    metrics.settled(
        [Finished("api", 100.0, failed), Finished("(control)", 100.0, failed)],
        [Judged("api", 100.0, "down")],
        [],
        3,
    )
    metrics.settled(
        [Finished("api", 101.0, failed)], [Judged("api", 101.0, "network")], ["api"], 2
    )  # the monitor's own network: a probe, not a failure
    metrics.settled(
        [Finished("mail", 102.0, ProbeResult(True, 0.5))], [Judged("mail", 102.0, "up")], ["api"], 0
    )
    got = samples(metrics.render().decode())
    assert (
        got["lr_ci_uptime_probes_total", "api"] == 2 and got["lr_ci_uptime_probe_failures_total", "api"] == 1
    )
    assert got["lr_ci_uptime_probe_success", "api"] == 0 and got["lr_ci_uptime_probe_success", "mail"] == 1
    assert got["lr_ci_uptime_probe_duration_seconds", "mail"] == 0.5
    assert got["lr_ci_uptime_last_check_timestamp_seconds", "api"] == 101.25
    assert got["lr_ci_uptime_incident_open", "api"] == 1 and got["lr_ci_uptime_incident_open", "mail"] == 0
    assert (
        got["lr_ci_uptime_open_incidents", ""] == 1 and got["lr_ci_uptime_undelivered_notifications", ""] == 0
    )
    assert not any(name == "(control)" for _sample, name in got), "the control target is not a monitor"
    labels = {
        tuple(sorted(s.labels))
        for f in text_string_to_metric_families(metrics.render().decode())
        for s in f.samples
    }
    assert labels <= {(), ("kind", "monitor")}


def test_two_runs_in_one_process_do_not_share_series() -> None:
    first, second = UptimeMetrics([("api", "http")]), UptimeMetrics([("api", "http")])
    first.settled([Finished("api", 1.0, ProbeResult(True, 0.1))], [], [], 0)
    assert samples(second.render().decode())["lr_ci_uptime_probes_total", "api"] == 0


def test_the_loop_feeds_the_metrics_and_a_lost_network_is_not_a_failure(tmp_path: Path) -> None:
    """``runner.serve`` with the metrics as its observer, real time at 0.2 s: a service down while the
    control target answers is counted as failures and opens an incident; once the control target fails too,
    the service's failures are the monitor's own network: probes go on, failures do not; the alert a target
    refused shows as undelivered."""
    rule = Rule(interval=0.2, timeout=0.1, failures=2, window=1.0, recover_after=2)
    control_up = threading.Event()
    control_up.set()

    def down() -> ProbeResult:
        return ProbeResult(False, 0.001, 503, "status", "HTTP 503")

    def control() -> ProbeResult:
        return (
            ProbeResult(True, 0.001)
            if control_up.is_set()
            else ProbeResult(False, 0.001, None, "connect", "refused")
        )

    def notify(_delivery: Delivery) -> Sent:
        return Sent(False, "target down")  # retried with a 15 s backoff: owed for the whole test

    plan = Plan(
        monitors=(PlannedMonitor(Monitor("api", down), rule, "http", "scripted://api"),),
        control=PlannedMonitor(Monitor(CONTROL_NAME, control), rule, "http", "scripted://control"),
        targets=("inbox",),
        notify=notify,
        mask=lambda text: text,
        state_path=tmp_path / "uptime.sqlite",
    )
    metrics = UptimeMetrics.for_plan(plan)
    stop = threading.Event()

    def value(name: str) -> float:
        return samples(metrics.render().decode())[f"lr_ci_uptime_{name}", "api"]

    def work() -> None:
        with Store.open(plan.state_path, plan.mask) as store:
            serve(plan, store, stop=stop, observer=metrics)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    try:
        wait_for(lambda: value("incident_open") == 1, 10, "the incident")
        assert value("probe_failures_total") >= 2 and value("probe_success") == 0
        wait_for(
            lambda: samples(metrics.render().decode())["lr_ci_uptime_undelivered_notifications", ""] == 1,
            10,
            "owed",
        )
        control_up.clear()
        time.sleep(0.5)  # failures judged before the control failed may still arrive
        failures, probes = value("probe_failures_total"), value("probes_total")
        wait_for(lambda: value("probes_total") >= probes + 5, 10, "five more probes")
        assert value("probe_failures_total") == failures, "a lost network counted as failures"
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()


# -- the listener -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("9310", "127.0.0.1", 9310),
        (":9310", "127.0.0.1", 9310),
        ("127.0.0.1:9310", "127.0.0.1", 9310),
        ("localhost:9310", "localhost", 9310),
        ("[::1]:9310", "::1", 9310),
        ("0.0.0.0:9310", "0.0.0.0", 9310),
    ],
)
def test_listen_addresses(text: str, host: str, port: int) -> None:
    address = parse_listen(text)
    assert (address.host, address.port) == (host, port)
    assert address.loopback == (host != "0.0.0.0")


@pytest.mark.parametrize("text", ["ops.example.com:9310", "127.0.0.1", "127.0.0.1:x", "127.0.0.1:70000"])
def test_listen_addresses_refused(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape(text)):
        parse_listen(text)


def test_the_listener_serves_metrics_and_routes_the_page_to_the_site() -> None:
    seen: list[str] = []

    def site(path: str) -> Page | None:
        seen.append(path)
        if path == "/boom":
            raise AssertionError("never routed")
        if path == "/badges/broken.svg":
            raise RuntimeError("a bug in the page")
        return Page(200, "application/json", b"{}") if path == "/status.json" else None

    listener = Listener(ListenAddress("127.0.0.1", free_port()), lambda: b"lr_ci_x 1\n", site)
    listener.start()
    base = listener.address.url
    try:
        assert get(f"{base}/metrics") == (200, "lr_ci_x 1\n")
        assert get(f"{base}/status.json?x=1") == (200, "{}")
        assert get(f"{base}/")[0] == 404  # the site said None
        assert get(f"{base}/badges/broken.svg") == (500, "internal error\n")
        assert get(f"{base}/boom")[0] == 404  # not a page path: the site is never asked
        request = urllib.request.Request(f"{base}/metrics", method="HEAD")
        with urllib.request.urlopen(request, timeout=2) as answer:
            assert answer.status == 200 and answer.read() == b""
            assert answer.headers["Content-Length"] == "10"
    finally:
        listener.stop()
    assert seen == ["/status.json", "/", "/badges/broken.svg"]
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", listener.address.port), timeout=1):
        pass  # stopped: the port is closed


def test_without_a_site_the_page_paths_are_404() -> None:
    listener = Listener(ListenAddress("127.0.0.1", free_port()), lambda: b"")
    listener.start()
    try:
        assert [get(f"{listener.address.url}{p}")[0] for p in ("/", "/status.json", "/badges/a.svg")] == [
            404
        ] * 3
    finally:
        listener.stop()


def _config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "lr-ci.toml"
    path.write_text(
        f'[uptime]\nstate = "uptime.sqlite"\n{body}\n[[uptime.monitors]]\nname = "api"\nurl = "http://127.0.0.1:9/"\n'
    )
    return path


def test_a_host_name_to_listen_on_is_exit_2_in_one_line(tmp_path: Path, cli: Cli) -> None:
    path = _config(tmp_path, "")
    result = cli("--config", str(path), "uptime", "run", "--listen", "ops.example.com:9310")
    assert result.code == 2 and result.err.count("\n") == 1 and "--listen" in result.err
    assert "IP address" in result.err and "Traceback" not in result.err
    path = _config(tmp_path, 'listen = "ops.example.com:9310"')
    result = cli("--config", str(path), "uptime", "run")
    assert result.code == 2 and result.err.count("\n") == 1 and "lr-ci.toml:3" in result.err, result.err
    assert "listen" in result.err


def test_an_address_in_use_is_exit_2_before_monitoring(tmp_path: Path, cli: Cli) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("--config", str(_config(tmp_path, "")), "uptime", "run", "--listen", f"127.0.0.1:{port}")
    assert result.code == 2 and f"cannot listen on 127.0.0.1:{port}" in result.err, result.err
    assert result.err.count("error") == 1 and "Traceback" not in result.err


def test_uptime_listen_in_the_config_serves_metrics_until_sigterm(tmp_path: Path) -> None:
    port = free_port()
    path = _config(tmp_path, f'listen = "127.0.0.1:{port}"\ninterval = 1\ntimeout = 0.5')
    with running(
        [lr_ci_executable(), "--config", str(path), "uptime", "run"], tmp_path / "run.log"
    ) as process:
        wait_for(lambda: get(f"http://127.0.0.1:{port}/metrics")[0] == 200, 15, "the listener")
        wait_for(lambda: api_sample(f"http://127.0.0.1:{port}/metrics", "probes_total") >= 1, 10, "a probe")
        assert get(f"http://127.0.0.1:{port}/nothing")[0] == 404
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    log = (tmp_path / "run.log").read_text()
    assert f"serving /metrics on http://127.0.0.1:{port}/metrics\n" in log, log
    assert get(f"http://127.0.0.1:{port}/metrics")[0] == 0, "the listener stopped with the monitor"


# -- a real Prometheus scraping a real lr-ci uptime run ------------------------------------------------------


class Service:
    """An HTTP health endpoint on a fixed port: it can fail the next N requests (HTTP 500), go down (its
    listening socket closed) and come back on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.fail_next = 0
        self.hits = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def up(self) -> None:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with service._lock:
                    service.hits += 1
                    failing = service.fail_next > 0
                    service.fail_next -= 1 if failing else 0
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True
        self._thread.start()

    def down(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None


def documented_yaml(holding: str) -> str:
    """The one YAML block of docs/uptime.md's Prometheus section that holds ``holding``."""
    section = (ROOT / "docs" / "uptime.md").read_text().split("\n## Prometheus\n", 1)[1].split("\n## ", 1)[0]
    blocks = [str(b) for b in re.findall(r"```yaml\n(.*?)```", section, re.DOTALL) if holding in b]
    assert len(blocks) == 1, f"docs/uptime.md, Prometheus: one yaml block with {holding}"
    return blocks[0]


def documented_scrape_config(target: str) -> str:
    """The scrape config of docs/uptime.md as written, scraping ``target`` every second, its rules file
    beside it, evaluated every second."""
    config = yaml.safe_load(documented_yaml("scrape_configs:"))
    (job,) = config["scrape_configs"]
    assert job["static_configs"] == [{"targets": ["127.0.0.1:9310"]}]
    job["static_configs"], job["scrape_interval"] = [{"targets": [target]}], "1s"
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    return yaml.safe_dump(config)


def documented_rules(window: str) -> str:
    """The alerting rules block of docs/uptime.md's Prometheus section, as written, with ``[5m]`` -> ``window``."""
    blocks = [documented_yaml("alert:")]
    assert len(blocks) == 1 and blocks[0].count("[5m]") == 1, "docs/uptime.md: one rules block, one [5m]"
    text = str(blocks[0]).replace("[5m]", f"[{window}]")
    rules = yaml.safe_load(text)["groups"][0]["rules"]
    assert rules[0] == {
        **rules[0],
        "alert": ALERT,
        "expr": f"increase(lr_ci_uptime_probe_failures_total[{window}]) >= 2",
    }
    return text


@contextlib.contextmanager
def running(
    command: list[str], log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as handle:
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=env)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def prometheus_api(base: str, path: str) -> Any:
    status, body = get(f"{base}{path}")
    assert status == 200, body
    return json.loads(body)["data"]


def api_sample(metrics_url: str, name: str) -> float:
    return samples(get(metrics_url)[1])[f"lr_ci_uptime_{name}", "api"]


def alert_states(base: str) -> dict[str, str]:
    """monitor -> state of every active UptimeChecksFailing alert."""
    alerts = prometheus_api(base, "/api/v1/alerts")["alerts"]
    return {a["labels"]["monitor"]: a["state"] for a in alerts if a["labels"]["alertname"] == ALERT}


def test_a_real_prometheus_fires_the_documented_rule_in_an_outage_and_resolves_it(
    tmp_path: Path, ca: Any, ca_file: str
) -> None:
    if not Path(PROMETHEUS).exists():
        if os.environ.get("LR_CI_REQUIRE_REFERENCE_TOOLS"):
            pytest.fail(
                "Debian's prometheus is not installed (.ci/run installs it: apt-get install prometheus)"
            )
        pytest.skip("Debian's prometheus binary is not installed (apt-get install prometheus)")
    service = Service()
    service.up()
    metrics_port, prometheus_port = free_port(), free_port()
    with smtp_server(ca) as (smtp_port, _sink), webhook_receiver() as (hook, _receiver):
        config = tmp_path / "lr-ci.toml"
        config.write_text(
            f"""
[uptime]
state = "uptime.sqlite"
interval = 1
timeout = 0.9
failures = 2
window = "10s"

[[uptime.monitors]]
name = "api"
url = "http://probe:{USERINFO_PASSWORD}@127.0.0.1:{service.port}/health"

[[uptime.monitors]]
name = "mail"
smtp = "127.0.0.1:{smtp_port}"
username = "{SMTP_USER}"
password = "${{SMTP_PASSWORD}}"
rcpt_to = "{SINK}"
ca_file = "{ca_file}"
interval = 2
timeout = 1

[[uptime.notify]]
webhook = "{hook}"
secret = "${{HOOK_SECRET}}"
"""
        )
        (tmp_path / "lr-ci-uptime.rules.yml").write_text(documented_rules("10s"))
        (tmp_path / "prometheus.yml").write_text(documented_scrape_config(f"127.0.0.1:{metrics_port}"))
        env = {**os.environ, "HOOK_SECRET": SECRET, "SMTP_PASSWORD": SMTP_PASSWORD}
        lr_ci = [
            lr_ci_executable(),
            "--config",
            str(config),
            "uptime",
            "run",
            "--listen",
            f"127.0.0.1:{metrics_port}",
        ]
        prometheus = [
            PROMETHEUS,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prometheus_port}",
        ]
        api = f"http://127.0.0.1:{prometheus_port}"
        metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        with (
            running(lr_ci, tmp_path / "lr-ci.log", env) as monitor,
            running(prometheus, tmp_path / "prometheus.log"),
        ):
            try:
                wait_for(lambda: get(f"{api}/-/ready")[0] == 200, 20, "Prometheus to be ready")
                query = "/api/v1/query?query=lr_ci_uptime_probes_total%7Bmonitor%3D%22api%22%7D"
                wait_for(lambda: len(prometheus_api(api, query)["result"]) == 1, 15, "the first scrape")
                time.sleep(2.0)  # a few samples of the counters at 0 before the first failure

                # One failed check: fewer than 2 in the window, whatever the extrapolation makes of it.
                service.fail_next = 1
                wait_for(
                    lambda: api_sample(metrics_url, "probe_failures_total") == 1, 10, "the single failure"
                )
                single: list[float] = []
                quiet_until = time.monotonic() + 12.0  # the 10 s window and then some
                increase = "/api/v1/query?query=increase(lr_ci_uptime_probe_failures_total%7Bmonitor%3D%22api%22%7D%5B10s%5D)"
                while time.monotonic() < quiet_until:
                    assert alert_states(api) == {}, "one failed check fired the rule"
                    single += [float(r["value"][1]) for r in prometheus_api(api, increase)["result"]]
                    time.sleep(0.25)
                assert 1.0 <= max(single) < 2.0, single

                # The outage: the socket closed; the alert fires.
                service.down()
                down_at = time.monotonic()
                wait_for(lambda: alert_states(api).get("api") == "firing", 20, "the alert to fire")
                fired_after = time.monotonic() - down_at
                text = get(metrics_url)[1]
                assert samples(text)["lr_ci_uptime_incident_open", "api"] == 1

                # Back up: the rule resolves once fewer than 2 failures are left in the window.
                service.up()
                up_at = time.monotonic()
                wait_for(lambda: "api" not in alert_states(api), 25, "the alert to resolve")
                resolved_after = time.monotonic() - up_at
                rules = prometheus_api(api, "/api/v1/rules")["groups"][0]["rules"]
                assert next(r for r in rules if r["name"] == ALERT)["state"] == "inactive"
                wait_for(
                    lambda: samples(get(metrics_url)[1])["lr_ci_uptime_incident_open", "api"] == 0,
                    10,
                    "recovery",
                )
                text += get(metrics_url)[1]
            finally:
                service.down()
            monitor.send_signal(signal.SIGTERM)
            assert monitor.wait(timeout=10) == 0, (tmp_path / "lr-ci.log").read_text()
        log = (tmp_path / "lr-ci.log").read_text()
    final = samples(text)
    assert final["lr_ci_uptime_probe_success", "mail"] == 1, "the SMTP monitor (with AUTH) probed fine"
    for credential in CREDENTIALS:
        assert credential not in text and credential not in log
        stored = [f for f in (tmp_path / "tsdb").rglob("*") if f.is_file()]
        assert stored and not any(credential.encode() in f.read_bytes() for f in stored)
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", metrics_port), timeout=1):
        pass  # the listener stopped with the monitor
    print(
        f"single failure: increase max {max(single):.3f}; fired {fired_after:.1f} s after down; resolved {resolved_after:.1f} s after up"
    )
