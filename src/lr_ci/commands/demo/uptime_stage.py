"""The demo's uptime stage: ``lr-ci uptime run`` watches the sample app while it goes down and comes back.

Two outages, the two an uptime monitor exists for:

1. **A dependency down**: the app's database fails (``/admin/knobs``, while it runs). The homepage still
   loads; ``/healthz`` answers 503 with ``database: down``, so only the ``health`` monitor alerts.
2. **The whole app down**: its process is stopped (connections refused), then started again on the same
   port with the same SQLite file. Every monitor alerts, then recovers.

The monitor runs as a user runs it (``lr-ci uptime run``, its own process, stopped with SIGTERM: exit 0)
with a short rule (probes every 0.5 s, an alert after 2 failures within 3 s) so the stage takes seconds;
its alerts go to the demo's own receiver on loopback (``receiver.py``), which checks their signature. Every
wait is bounded; on a timeout the stage says what did not arrive and the demo fails that case.
"""

from __future__ import annotations

import json
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lr_ci.commands.demo.receiver import Inbox, Notice, webhook_receiver
from lr_ci.commands.demo.runner import App, start_app, stop_app
from lr_ci.errors import LrCiError
from lr_ci.report import Case

WEBHOOK_SECRET_ENV = "LR_CI_DEMO_WEBHOOK_SECRET"  # noqa: S105 - the name of the variable, not a secret
MONITORS = ("homepage", "login", "health")
START_WAIT_S = 20.0
"""How long the monitor may take to start (import, read the config, open its state file)."""
EVENT_WAIT_S = 15.0
"""How long an alert or a recovery may take to arrive: the rule's bound (2 × 1 s + 1 s for the login
flow) many times over, for a loaded machine."""
BASELINE_S = 1.2
"""Let every monitor pass a probe or two before the first outage (the status page shows them up first)."""

UPTIME_CONFIG = """
[uptime]
state = "uptime.sqlite"
base_url = "{url}"
owner = "the lr-ci demo"
interval = 0.5
timeout = 0.5
failures = 2
window = 3
recover_after = 2

[[uptime.monitors]]
name = "homepage"
url = "{url}/"
body_contains = "Ops Console"

[[uptime.monitors]]
name = "login"
flow = "login"
interval = 1
timeout = 1

[[uptime.monitors]]
name = "health"
url = "{url}/healthz"
json = ['$.checks.database == "ok"', '$.checks.queue == "ok"']

[[uptime.notify]]
name = "demo receiver"
webhook = "{hook}"
secret = "${{{secret_env}}}"
"""


@dataclass
class Outage:
    """One outage as the receiver saw it: seconds from the takedown to each alert and recovery."""

    what: str
    expected: tuple[str, ...]
    opened: dict[str, float]
    recovered: dict[str, float]
    durations: dict[str, float]

    @property
    def complete(self) -> bool:
        return all(m in self.opened and m in self.recovered for m in self.expected)


def run(
    app_dir: Path,
    work: Path,
    out: Path,
    base_config: str,
    env: dict[str, str],
    report_outputs: Callable[[str], list[str]],
    say: Callable[[str], None],
) -> tuple[dict[str, Any], list[Case]]:
    """Run the stage; returns the ``uptime run`` report and the stage's cases."""
    webhook_secret = secrets.token_urlsafe(24)
    admin_token = secrets.token_urlsafe(24)
    knobs: dict[str, Any] = {"admin_token": admin_token, "database": work / "uptime-app.db"}
    outages: list[Outage] = []
    with webhook_receiver(webhook_secret) as (hook, inbox):
        app = start_app(app_dir, **knobs)
        running = [app]  # what the finally stops: the app, or the one started again after the outage
        port = int(app.url.rsplit(":", 1)[1])
        config = work / "uptime.toml"
        config.write_text(
            base_config + UPTIME_CONFIG.format(url=app.url, hook=hook, secret_env=WEBHOOK_SECRET_ENV)
        )
        say(
            f"5/5 uptime: `lr-ci uptime run` probes the app's homepage, login and /healthz every 0.5 s "
            f"(alert after 2 failures within 3 s) and sends signed alerts to a receiver at {hook}"
        )
        log = work / "uptime-run.log"
        command = [sys.executable, "-m", "lr_ci", "--config", str(config), "uptime", "run"]
        command += ["--format", "text", "--quiet", *report_outputs("uptime")]
        monitor_env = {**env, WEBHOOK_SECRET_ENV: webhook_secret}
        with log.open("w") as stderr:
            monitor = subprocess.Popen(
                command, cwd=work, env=monitor_env, stdout=subprocess.DEVNULL, stderr=stderr, text=True
            )
        try:
            _wait_started(monitor, log)
            time.sleep(BASELINE_S)
            outages.append(_database_outage(app, admin_token, inbox, say))
            stop_app(running.pop())  # the second outage: the process stopped, its socket closed
            outages.append(_whole_app_outage(lambda: start_app(app_dir, port, **knobs), running, inbox, say))
            code = _stop(monitor)
        finally:
            if monitor.poll() is None:
                monitor.kill()
                monitor.wait(timeout=10)
            for started in running:
                stop_app(started)
        received = inbox.snapshot()
        bad_signatures, duplicates = inbox.bad_signatures, len(inbox.duplicates)
    say(
        f"  the monitor stopped on SIGTERM with exit {code}; the receiver accepted {len(received)} "
        f"signed notifications, each key once ({duplicates} duplicate(s) dropped, "
        f"{bad_signatures} bad signature(s))"
    )
    (out / "uptime-alerts.json").write_text(json.dumps([n.body for n in received], indent=2) + "\n")
    _status_page(config, work, out, monitor_env, say)
    report_path = out / "uptime.json"
    if not report_path.is_file():
        raise LrCiError(f"lr-ci uptime run did not report: {log.read_text()[-300:].strip()}")
    report: dict[str, Any] = json.loads(report_path.read_text())
    cases = [
        _case("uptime: the database down alerted health, then it recovered", outages[0]),
        _case("uptime: the app down alerted every monitor, then each recovered", outages[1]),
        Case(
            name="uptime: the monitor stopped cleanly, every alert signed",
            status="pass" if code == 0 and bad_signatures == 0 else "fail",
            message=f"exit {code}, {bad_signatures} bad signatures",
        ),
    ]
    return report, cases


def _wait_started(monitor: subprocess.Popen[str], log: Path) -> None:
    deadline = time.monotonic() + START_WAIT_S
    while "monitoring" not in log.read_text():
        if monitor.poll() is not None:
            raise LrCiError(f"lr-ci uptime run stopped: {log.read_text().strip()[-300:]}")
        if time.monotonic() > deadline:
            raise LrCiError(f"lr-ci uptime run did not start within {START_WAIT_S:.0f} s")
        time.sleep(0.05)


def _admin(app: App, token: str, **knobs: bool) -> None:
    """Change the running app's knobs through its admin endpoint (loopback, bearer token)."""
    from lr_ci import _http

    with _http.client(_http.ClientOptions(timeout_s=5)) as client:
        response = client.post(
            f"{app.url}/admin/knobs", json=knobs, headers={"Authorization": f"Bearer {token}"}
        )
    if response.status_code != 200:
        raise LrCiError(f"the sample app refused its knobs: HTTP {response.status_code}")


def _database_outage(app: App, token: str, inbox: Inbox, say: Callable[[str], None]) -> Outage:
    first = len(inbox.snapshot())
    outage = Outage("the database", ("health",), {}, {}, {})
    down_at = time.monotonic()
    _admin(app, token, db_down=True)
    say(f"  {_clock()} the app's database went down: the homepage still loads, /healthz answers 503")
    _await(inbox, first, "opened", outage, down_at, say)
    _admin(app, token, db_down=False)
    say(f"  {_clock()} the database is back (through the app's admin knobs, while it runs)")
    _await(inbox, first, "recovered", outage, down_at, say)
    return outage


def _whole_app_outage(
    restart: Callable[[], App], running: list[App], inbox: Inbox, say: Callable[[str], None]
) -> Outage:
    first = len(inbox.snapshot())
    outage = Outage("the whole app", MONITORS, {}, {}, {})
    down_at = time.monotonic()
    say(f"  {_clock()} the whole app stopped: every connection is refused")
    _await(inbox, first, "opened", outage, down_at, say)
    running.append(restart())
    say(f"  {_clock()} the app started again on the same port")
    _await(inbox, first, "recovered", outage, down_at, say)
    return outage


def _await(
    inbox: Inbox, first: int, kind: str, outage: Outage, down_at: float, say: Callable[[str], None]
) -> None:
    """Wait (bounded) until every expected monitor's ``kind`` notice arrived; narrate what came when
    (seconds counted from the takedown, and the outage's length as the recovery notice states it)."""

    def arrived(notices: list[Notice]) -> dict[str, Notice]:
        return {n.monitor: n for n in notices[first:] if n.kind == kind and n.monitor in outage.expected}

    inbox.wait_for(lambda notices: len(arrived(notices)) == len(outage.expected), EVENT_WAIT_S)
    got = arrived(inbox.snapshot())
    seen = outage.opened if kind == "opened" else outage.recovered
    for monitor, notice in got.items():
        seen[monitor] = round(notice.at - down_at, 1)
        if kind == "recovered" and isinstance(notice.body.get("duration"), (int, float)):
            outage.durations[monitor] = round(float(notice.body["duration"]), 1)
    missing = [m for m in outage.expected if m not in got]
    order = [m for m in outage.expected if m in got]
    if got and kind == "opened":
        what = ", ".join(f"{m} {seen[m]} s ({_failure(got[m])})" for m in order)
        say(f"  {_clock()} alert received (signature verified), seconds after it went down: {what}")
    elif got:
        back = ", ".join(f"{m} {seen[m]} s" for m in order)
        lasted = ", ".join(f"{m} {outage.durations[m]} s" for m in order if m in outage.durations)
        say(
            f"  {_clock()} recovery notice received, seconds after it went down: {back}"
            + (f"; the outage lasted, by the monitor's probes: {lasted}" if lasted else "")
        )
    if missing:
        label = "alert" if kind == "opened" else "recovery notice"
        say(f"  no {label} for {', '.join(missing)} within {EVENT_WAIT_S:.0f} s")


def _failure(notice: Notice) -> str:
    """What the alert says failed: its error text, else its status."""
    failure = notice.body.get("failure")
    if isinstance(failure, dict):
        return str(failure.get("error") or f"status {failure.get('status')}")
    return "failed"


def _stop(monitor: subprocess.Popen[str]) -> int | None:
    monitor.send_signal(signal.SIGTERM)
    try:
        return monitor.wait(timeout=15)
    except subprocess.TimeoutExpired:
        return None


def _status_page(
    config: Path, work: Path, out: Path, env: dict[str, str], say: Callable[[str], None]
) -> None:
    """``lr-ci uptime page --out <reports>/status``: the page of the outages the demo just caused."""
    base = [sys.executable, "-m", "lr_ci", "--config", str(config), "uptime", "page"]
    page = out / "status"
    done = subprocess.run(
        [*base, "--out", str(page), "--quiet"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode == 0:
        say(f"  status page: {page / 'index.html'}")
    else:
        say(f"  status page: not written ({done.stderr.strip()[-200:]})")


def _case(name: str, outage: Outage) -> Case:
    missing = [
        f"{m} {kind}"
        for m in outage.expected
        for kind, seen in (("alert", outage.opened), ("recovery", outage.recovered))
        if m not in seen
    ]
    return Case(
        name=name,
        status="pass" if outage.complete else "fail",
        message=f"{outage.what}: "
        + ("alerted and recovered" if not missing else "missing " + ", ".join(missing)),
    )


def _clock() -> str:
    return time.strftime("%H:%M:%S", time.localtime())
