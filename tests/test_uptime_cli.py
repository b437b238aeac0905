"""``lr-ci uptime check --once``, ``run`` and ``test-alert`` end to end: real HTTP servers on loopback that
go down (the listening socket closed) and come back, the real signed-webhook receiver that drops duplicate
idempotency keys, real aiosmtpd, the real SQLite file, real ``lr-ci`` processes and signals."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme

from helpers.cli import Cli, lr_ci_executable
from helpers.opsapp_server import RunningApp
from helpers.uptime_servers import (
    SECRET,
    SMTP_PASSWORD,
    Receiver,
    credentials_config,
    free_port,
    smtp_server,
    webhook_receiver,
)
from lr_ci.checks.uptime.state import Store

ENV = {
    "HOOK_SECRET": SECRET,
    "SMTP_PASSWORD": SMTP_PASSWORD,
    "OPS_USER": "ops",
    "OPS_PASSWORD": "ops-demo-password",
}


class Service:
    """An HTTP health endpoint on a fixed port that can be taken down (its listening socket closed) and
    brought back on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.hits = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/health"

    def up(self) -> None:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                service.hits += 1
                body = b'{"database": "ok"}'
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            assert self._thread is not None
            self._thread.join(timeout=5)
            self._server = None


@contextlib.contextmanager
def service() -> Iterator[Service]:
    running = Service()
    running.up()
    try:
        yield running
    finally:
        running.down()


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


def config(
    tmp_path: Path, url: str, hook: str, *, extra: str = "", rule: str = "failures = 1\ntimeout = 2"
) -> Path:
    path = tmp_path / "lr-ci.toml"
    path.write_text(
        f"""
[uptime]
state = "state/uptime.sqlite"
owner = "ops team"
{rule}

[[uptime.monitors]]
name = "api"
url = "{url}"
json = ['$.database == "ok"']

[[uptime.notify]]
name = "hook"
webhook = "{hook}"
secret = "${{HOOK_SECRET}}"
{extra}
"""
    )
    return path


def once(cli: Cli, path: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = cli("--config", str(path), "uptime", "check", "--once", "--format", "json", *args)
    assert result.code in (0, 1), result.err
    return result.code, result.json()


def kinds(receiver: Receiver) -> list[str]:
    return [body["kind"] for body in receiver.accepted.values()]


def test_an_outage_across_once_runs_is_one_alert_and_one_recovery(tmp_path: Path, cli: Cli) -> None:
    with service() as api, webhook_receiver() as (hook, receiver):
        path = config(tmp_path, api.url, hook)
        codes = [once(cli, path)[0]]
        api.down()
        code, down = once(cli, path)
        codes.append(code)
        api.up()
        codes.append(once(cli, path)[0])  # one success: recover_after = 2 keeps it open
        code, back = once(cli, path)
        codes.append(code)
        codes.append(once(cli, path)[0])
    assert codes == [0, 1, 1, 0, 0]
    assert kinds(receiver) == ["opened", "recovered"]
    assert receiver.duplicates == [] and receiver.bad_signatures == 0
    opened = next(iter(receiver.accepted.values()))
    assert opened["monitor"] == "api" and opened["owner"] == "ops team"
    assert opened["failure"]["error"] == "connection refused"
    finding = down["findings"][0]
    assert finding["rule"] == "uptime-down" and finding["severity"] == "high"
    assert finding["location"]["url"] == api.url
    assert "api is down since" in finding["message"] and "connection refused" in finding["message"]
    assert "Owner: ops team" in finding["message"]
    metrics = down["metrics"]
    assert metrics["open_incidents"] == 1 and metrics["delivered"] == 1 and metrics["undelivered"] == 0
    monitor = metrics["per_monitor"]["api"]
    assert monitor["ok"] is False and monitor["error_class"] == "refused" and monitor["incident_since"]
    assert [c["status"] for c in down["cases"]] == ["fail"]
    assert back["findings"] == [] and back["metrics"]["per_monitor"]["api"]["ok"] is True


def test_a_monitor_removed_while_down_has_its_incident_closed_once(tmp_path: Path, cli: Cli) -> None:
    """Removed from lr-ci.toml mid-outage, a monitor is never probed again: the next run closes its
    incident with one recovery (``removed``) instead of exiting 1 forever."""
    with service() as api, webhook_receiver() as (hook, receiver):
        gone = f'[[uptime.monitors]]\nname = "gone"\nurl = "http://127.0.0.1:{free_port()}/"\n'
        path = config(tmp_path, api.url, hook, extra=gone)
        assert once(cli, path)[0] == 1
        path = config(tmp_path, api.url, hook)
        codes = [once(cli, path)[0], once(cli, path)[0]]
    assert codes == [0, 0]
    assert kinds(receiver) == ["opened", "recovered"] and receiver.duplicates == []
    recovered = list(receiver.accepted.values())[1]
    assert recovered["monitor"] == "gone" and recovered["removed"] is True


def test_the_junit_report_has_one_case_per_monitor(tmp_path: Path, cli: Cli) -> None:
    with service() as api, webhook_receiver() as (hook, _receiver):
        path = config(
            tmp_path,
            api.url,
            hook,
            extra=f'[[uptime.monitors]]\nname = "gone"\nurl = "http://127.0.0.1:{free_port()}/"\n',
        )
        junit = tmp_path / "uptime.xml"
        result = cli("--config", str(path), "uptime", "check", "--once", "--output", f"junit:{junit}")
    assert result.code == 1
    text = junit.read_text()
    assert text.count("<testcase") == 2 and 'name="api"' in text and 'name="gone"' in text


def test_a_second_run_waits_for_the_lock_then_names_the_holder(tmp_path: Path, cli: Cli) -> None:
    with service() as api, webhook_receiver() as (hook, receiver):
        path = config(tmp_path, api.url, hook)
        state = tmp_path / "state" / "uptime.sqlite"
        state.parent.mkdir()
        with Store.open(state, lambda text: text):
            started = time.monotonic()
            result = cli("--config", str(path), "uptime", "check", "--once", "--lock-wait", "0.5")
            waited = time.monotonic() - started
        assert result.code == 2 and len(result.err.splitlines()) == 1, result.err
        assert f"(pid {os.getpid()})" in result.err and "waited 0.5 s" in result.err
        assert waited >= 0.5
        assert receiver.requests == 0


def test_overlapping_once_runs_never_deliver_twice(tmp_path: Path) -> None:
    """Four real processes started at once on one state file during an outage: they queue on the lock,
    and the receiver gets exactly one "opened"."""
    down = f"http://127.0.0.1:{free_port()}/health"
    with webhook_receiver() as (hook, receiver):
        path = config(tmp_path, down, hook)
        env = {**os.environ, **ENV}
        command = [lr_ci_executable(), "--config", str(path), "uptime", "check", "--once", "--format", "json"]
        processes = [
            subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(4)
        ]
        outputs = [p.communicate(timeout=60) for p in processes]
    assert [p.returncode for p in processes] == [1, 1, 1, 1], [err for _out, err in outputs]
    assert kinds(receiver) == ["opened"] and receiver.requests == 1 and receiver.duplicates == []
    delivered = [json.loads(out)["metrics"]["delivered"] for out, _err in outputs]
    assert sorted(delivered) == [0, 0, 0, 1]


def test_a_target_down_for_three_runs_gets_the_alert_once_after(tmp_path: Path, cli: Cli) -> None:
    down = f"http://127.0.0.1:{free_port()}/health"
    with webhook_receiver() as (hook, receiver):
        path = config(tmp_path, down, hook)
        receiver.status = 503
        failed = [once(cli, path)[1] for _ in range(3)]
        receiver.status = 200
        after = once(cli, path)[1]
        again = once(cli, path)[1]
    assert [r["metrics"]["undelivered"] for r in failed] == [1, 1, 1]
    assert failed[0]["metrics"]["deliveries"]["failed"][0]["reason"] == "webhook http://***: HTTP 503"
    assert any(f["rule"] == "uptime-undelivered" for f in failed[-1]["findings"])
    assert after["metrics"]["delivered"] == 1 and after["metrics"]["undelivered"] == 0
    assert again["metrics"]["delivered"] == 0
    assert receiver.requests == 4 and kinds(receiver) == ["opened"] and receiver.duplicates == []


def test_a_lost_network_is_reported_as_such_not_as_every_monitor_down(tmp_path: Path, cli: Cli) -> None:
    closed = free_port()
    with webhook_receiver() as (hook, receiver):
        path = config(
            tmp_path,
            f"http://127.0.0.1:{closed}/health",
            hook,
            extra=f'[[uptime.monitors]]\nname = "web"\nurl = "http://127.0.0.1:{closed}/"\n\n'
            f'[uptime.control]\nurl = "http://127.0.0.1:{closed}/always-up"\n',
        )
        reports = [once(cli, path) for _ in range(3)]
    assert [code for code, _ in reports] == [0, 0, 0]
    last = reports[-1][1]
    assert [f["rule"] for f in last["findings"]] == ["uptime-network-lost"]
    assert last["metrics"]["network_lost_since"] is not None and last["metrics"]["open_incidents"] == 0
    assert {c["status"] for c in last["cases"]} == {"skip"}
    assert receiver.requests == 0


def test_credentials_never_leave(tmp_path: Path, cli: Cli, opsapp: Any, ca: trustme.CA, ca_file: str) -> None:
    """A login flow (its password sent, and expected in a body so that the failure would quote it) and an
    SMTP probe with AUTH: neither password, nor the webhook's secret, appears in any format, the log, the
    alert or the state file's bytes."""
    app: RunningApp = opsapp()
    with smtp_server(ca) as (smtp_port, sink), webhook_receiver() as (hook, receiver):
        path = tmp_path / "lr-ci.toml"
        path.write_text(credentials_config(app.url, smtp_port, hook, ca_file))
        outputs = {
            fmt: tmp_path / f"report.{fmt}" for fmt in ("json", "sarif", "junit", "markdown", "github")
        }
        args = [f"--output={fmt}:{file}" for fmt, file in outputs.items()]
        result = cli("--config", str(path), "uptime", "check", "--once", "--verbose", *args)
        text = cli("--config", str(path), "uptime", "check", "--once", "--verbose")
    assert result.code == 1, result.err
    report = json.loads(outputs["json"].read_text())
    monitors = report["metrics"]["per_monitor"]
    assert monitors["outgoing mail"]["ok"] is True and len(sink.messages) >= 1
    assert monitors["login works"]["ok"] is False and "***" in (monitors["login works"]["error"] or "")
    assert monitors["mail, wrong user"]["error_class"] == "auth"
    assert sorted(kinds(receiver)) == ["opened", "opened"]
    state = tmp_path / ".lr-ci" / "uptime.sqlite"
    everything = [
        result.out,
        result.err,
        text.out,
        text.err,
        *(file.read_text() for file in outputs.values()),
        json.dumps(list(receiver.accepted.values())),
    ]
    stored = b"".join(p.read_bytes() for p in state.parent.iterdir() if p.is_file())
    for credential in ("ops-demo-password", SMTP_PASSWORD, SECRET):
        for number, output in enumerate(everything):
            assert credential not in output, (credential, number)
        assert credential.encode() not in stored, credential


def test_test_alert_reports_each_target(tmp_path: Path, cli: Cli) -> None:
    with webhook_receiver() as (hook, receiver):
        path = tmp_path / "lr-ci.toml"
        path.write_text(
            f"""
[[uptime.notify]]
name = "hook"
webhook = "{hook}"
secret = "${{HOOK_SECRET}}"

[[uptime.notify]]
url = "json://127.0.0.1:{free_port()}/alerts"
"""
        )
        result = cli("--config", str(path), "uptime", "test-alert", "--format", "json")
    assert result.code == 1, result.err
    cases = {c["name"]: c for c in result.json()["cases"]}
    assert cases["hook"]["status"] == "pass" and cases["hook"]["message"] == "delivered"
    assert cases["json://***"]["status"] == "fail" and cases["json://***"]["message"].startswith("json://***")
    assert kinds(receiver) == ["test"]
    body = next(iter(receiver.accepted.values()))
    assert body["key"].startswith("test-") and body["target"] == "hook"
    assert result.json()["metrics"]["delivered"] == 1 and result.json()["metrics"]["failed"] == 1


def test_test_alert_with_every_target_delivered_and_with_none(tmp_path: Path, cli: Cli) -> None:
    with webhook_receiver() as (hook, receiver):
        path = config(tmp_path, "http://127.0.0.1:9/", hook)
        result = cli("--config", str(path), "uptime", "test-alert")
    assert result.code == 0, result.err
    assert kinds(receiver) == ["test"]
    empty = tmp_path / "empty.toml"
    empty.write_text("[[uptime.monitors]]\nname = 'a'\nurl = 'http://127.0.0.1:9/'\n")
    result = cli("--config", str(empty), "uptime", "test-alert")
    assert result.code == 2 and "no notification target" in result.err


# -- lr-ci uptime run -----------------------------------------------------------------------------------


def start_run(path: Path, tmp_path: Path, name: str) -> tuple[subprocess.Popen[str], Path]:
    log = tmp_path / f"{name}.log"
    command = [lr_ci_executable(), "--config", str(path), "uptime", "run", "--format", "json"]
    with log.open("w") as handle:
        process = subprocess.Popen(
            command, env={**os.environ, **ENV}, stdout=subprocess.PIPE, stderr=handle, text=True
        )
    return process, log


def wait_for(condition: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


FAST = "interval = 0.5\ntimeout = 0.4\nfailures = 2\nwindow = 2\nrecover_after = 2"


def test_run_alerts_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    with service() as api, webhook_receiver() as (hook, receiver):
        path = config(tmp_path, api.url, hook, rule=FAST)
        process, log = start_run(path, tmp_path, "run")
        try:
            wait_for(lambda: api.hits >= 2)
            api.down()
            wait_for(lambda: "opened" in kinds(receiver))  # the bound itself is measured in benchmarks/
            process.send_signal(signal.SIGTERM)
            out, _ = process.communicate(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 0, log.read_text()
    assert kinds(receiver) == ["opened"] and receiver.duplicates == []
    assert json.loads(out)["status"] == "pass"
    lines = log.read_text().splitlines()
    assert any("opened" in line for line in lines), lines
    assert len(lines) < 20, lines  # one line per event, no progress spam
    assert SECRET not in log.read_text()


def test_run_killed_mid_incident_resumes_without_a_second_alert(tmp_path: Path) -> None:
    with service() as api, webhook_receiver() as (hook, receiver):
        path = config(tmp_path, api.url, hook, rule=FAST)
        api.down()
        first, _log = start_run(path, tmp_path, "first")
        try:
            wait_for(lambda: "opened" in kinds(receiver))
        finally:
            first.kill()  # SIGKILL: no clean-up at all
            first.wait(timeout=10)
        second, log = start_run(path, tmp_path, "second")
        try:
            time.sleep(1.5)  # still down: the restarted monitor must not open it again
            api.up()
            wait_for(lambda: "recovered" in kinds(receiver))
            second.send_signal(signal.SIGTERM)
            second.communicate(timeout=10)
        finally:
            if second.poll() is None:
                second.kill()
    assert second.returncode == 0, log.read_text()
    assert kinds(receiver) == ["opened", "recovered"] and receiver.duplicates == []


def test_run_with_a_bad_config_exits_2_before_starting(tmp_path: Path) -> None:
    path = tmp_path / "lr-ci.toml"
    path.write_text(
        "[[uptime.monitors]]\nname = 'a'\nurl = 'http://127.0.0.1:9/'\ninterval = 1\ntimeout = 5\n"
    )
    result = subprocess.run(
        [lr_ci_executable(), "--config", str(path), "uptime", "run"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={**os.environ, **ENV},
    )
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
    assert "lr-ci.toml:1" in result.stderr and not (tmp_path / ".lr-ci").exists()


def test_runs_too_far_apart_for_the_rule_are_reported(tmp_path: Path, cli: Cli) -> None:
    """A rule of 2 failures within 1 s, run by a "scheduler" every 1.2 s, could never alert: said."""
    with service() as api, webhook_receiver() as (hook, _receiver):
        path = config(tmp_path, api.url, hook, rule="interval = 0.5\ntimeout = 0.4\nfailures = 2\nwindow = 1")
        first = once(cli, path)[1]
        time.sleep(1.2)
        code, second = once(cli, path)
    assert [f["rule"] for f in first["findings"]] == []
    assert code == 0 and [f["rule"] for f in second["findings"]] == ["uptime-schedule-too-slow"]
    assert re.search(r"api: runs \d+ s apart", second["findings"][0]["message"])
    assert second["findings"][0]["data"]["gaps_s"]["api"] >= 1.2


def test_a_smoke_flow_and_a_certificate_are_monitors(
    tmp_path: Path, cli: Cli, opsapp_url: str, ca: trustme.CA, ca_file: str
) -> None:
    """The example app's ``[smoke]`` login flow proves login in one round (its base URL from --base-url);
    a certificate 5 days from expiry with min_days 14 opens an incident whose alert says so."""
    import datetime

    from helpers.cli import ROOT
    from helpers.uptime_servers import tls_server

    not_after = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=5)
    certificate = ca.issue_cert("127.0.0.1", not_after=not_after)
    with tls_server(certificate) as port, webhook_receiver() as (hook, receiver):
        path = tmp_path / "lr-ci.toml"
        smoke = (ROOT / "examples" / "opsapp" / "lr-ci.toml").read_text()  # [smoke] only
        assert "\n[uptime" not in smoke
        path.write_text(
            smoke
            + f"""
[uptime]
failures = 1

[[uptime.monitors]]
name = "login works"
flow = "login"

[[uptime.monitors]]
name = "certificate"
tls = "127.0.0.1:{port}"
ca_file = "{ca_file}"
min_days = 14
interval = "1h"

[[uptime.notify]]
webhook = "{hook}"
secret = "${{HOOK_SECRET}}"
"""
        )
        code, report = once(cli, path, "--base-url", opsapp_url)
    monitors = report["metrics"]["per_monitor"]
    assert monitors["login works"]["ok"] is True, monitors["login works"]
    assert monitors["login works"]["target"] == f"{opsapp_url} (flow login)"
    assert monitors["certificate"]["ok"] is False and monitors["certificate"]["error_class"] == "expiring"
    assert 4.8 <= monitors["certificate"]["detail"]["days_left"] <= 5
    assert code == 1 and [f["data"]["monitor"] for f in report["findings"]] == ["certificate"]
    alert = next(iter(receiver.accepted.values()))
    assert alert["monitor"] == "certificate" and "under min_days 14" in alert["failure"]["error"]


@pytest.mark.slow
def test_the_uptime_action_runs_one_round(tmp_path: Path) -> None:
    """actions/uptime (generated) runs `lr-ci uptime check --once` with the state input; its outputs are
    the report's numbers, and the incident fails the step."""
    from helpers.actions_runner import run_action
    from helpers.cli import ROOT
    from helpers.git import git

    workspace = tmp_path / "workspace"
    workspace.mkdir()
    git(workspace, "init", "-q")
    with webhook_receiver() as (hook, receiver):
        config(workspace, f"http://127.0.0.1:{free_port()}/health", hook)
        inputs = {"state": str(tmp_path / "cache" / "uptime.sqlite")}
        result = run_action(ROOT / "actions" / "uptime", inputs, workspace, tmp_path / "runner", env=ENV)
    assert result.step("Install lr-ci").code == 0
    assert result.outputs["status"] == "fail", result.stdout
    assert result.outputs["open-incidents"] == "1" and result.outputs["undelivered"] == "0"
    assert (tmp_path / "cache" / "uptime.sqlite").exists()
    assert f"::add-mask::{SECRET}" in result.stdout and result.step("Verdict").code == 1
    assert kinds(receiver) == ["opened"]
