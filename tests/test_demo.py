"""lr-ci demo end to end: every check against the sample app, a summary, the reports left behind; and the
demo's webhook receiver against lr-ci's real signed alerts."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest

from helpers.cli import Cli, lr_ci_executable
from helpers.git import copy_of_this_checkout
from helpers.load_sensitive import LOAD_SENSITIVE
from lr_ci.checks.uptime.notify import KEY_HEADER, SIGNATURE_HEADER, sign
from lr_ci.commands.demo.receiver import webhook_receiver

SECRET = "demo-receiver-test-secret-7f3a"


def _installed_wheel(tmp_path: Path) -> Path:
    """lr-ci as `pip install` leaves it: the wheel built from a copy of this tree, unpacked."""
    tree = tmp_path / "tree"
    copy_of_this_checkout(tree)
    wheels = tmp_path / "wheels"
    build = ["pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(tree)]
    subprocess.run(
        [sys.executable, "-m", *build],
        capture_output=True,
        check=True,
        timeout=300,
    )
    site = tmp_path / "site"
    with zipfile.ZipFile(next(wheels.glob("lr_ci-*.whl"))) as wheel:
        wheel.extractall(site)
    return site


@pytest.mark.slow
@pytest.mark.parametrize("installed", ["source checkout", "wheel"])
@LOAD_SENSITIVE
def test_demo_runs_every_check_and_summarizes(tmp_path: Path, installed: str) -> None:
    """From a clone, and from a pip install (the sample app travels in the wheel)."""
    out = tmp_path / "reports"
    temp = tmp_path / "tmp"  # the demo's own temporary folder: another run on the machine has its own
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp)}
    command = [lr_ci_executable(), "demo", "--out", str(out)]
    if installed == "wheel":
        site = _installed_wheel(tmp_path)
        assert (site / "lr_ci" / "_sample_app" / "opsapp" / "app.py").is_file()
        env["PYTHONPATH"] = str(site)  # ahead of the editable install's path
        where = [
            sys.executable,
            "-c",
            "from lr_ci.commands.demo import runner; print(runner.sample_app_dir())",
        ]
        found = subprocess.run(where, env=env, capture_output=True, text=True, check=True).stdout.strip()
        assert Path(found) == site / "lr_ci" / "_sample_app"
        command = [sys.executable, "-m", "lr_ci", "demo", "--out", str(out)]
    done = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False, env=env
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4/5 bundle" in done.stderr and f"reports in {out}" in done.stderr
    assert "Must fix before launch:" in done.stdout
    checks = ("secrets", "smoke", "p95", "bundle", "uptime")
    for check in checks:
        for suffix in ("json", "md", "junit.xml", "sarif"):
            assert (out / f"{check}.{suffix}").is_file()
    statuses = {c: json.loads((out / f"{c}.json").read_text())["status"] for c in checks}
    assert statuses == {"secrets": "fail", "smoke": "fail", "p95": "fail", "bundle": "pass", "uptime": "pass"}
    assert_the_uptime_stage(done.stderr, out)
    every_output = done.stdout + done.stderr + "".join(p.read_text() for p in out.glob("*.*"))
    assert "ops-demo-password" not in every_output
    assert not list(temp.glob("lr-ci-demo-*/demo-repo"))  # its temporary files are gone


def assert_the_uptime_stage(narration: str, out: Path) -> None:
    """The outage, the alert and the recovery, as the demo tells them and as the receiver got them."""
    stage = narration[narration.index("5/5 uptime") :]
    lines = stage.splitlines()

    def line_after(start: int, text: str) -> int:
        return next(n for n in range(start, len(lines)) if text in lines[n])

    alerted = "alert received (signature verified), seconds after it went down: "
    notice = "recovery notice received, seconds after it went down: "
    database_down = line_after(0, "database went down")
    alert = line_after(database_down, alerted + "health ")
    assert re.search(r"health [\d.]+ s \(HTTP 503", lines[alert]), lines[alert]
    recovered = line_after(alert, notice + "health ")
    assert re.search(r"the outage lasted, by the monitor's probes: health [\d.]+ s", lines[recovered])
    app_down = line_after(recovered, "the whole app stopped")
    alerts = line_after(app_down, alerted + "homepage ")
    for monitor in ("homepage", "login", "health"):
        assert re.search(rf"{monitor} [\d.]+ s \([^)]*connection refused", lines[alerts]), lines[alerts]
    restarted = line_after(alerts, "started again on the same port")
    back = line_after(restarted, notice + "homepage ")
    assert "login " in lines[back] and "health " in lines[back]
    assert "stopped on SIGTERM with exit 0" in lines[line_after(back, "the monitor stopped")]
    assert "0 bad signature(s)" in stage
    notices = json.loads((out / "uptime-alerts.json").read_text())
    received = sorted((n["monitor"], n["kind"]) for n in notices)
    assert received == sorted(
        [("health", "opened"), ("health", "recovered")] * 2
        + [(m, k) for m in ("homepage", "login") for k in ("opened", "recovered")]
    )
    assert len({n["key"] for n in notices}) == len(notices)
    report = json.loads((out / "uptime.json").read_text())
    assert report["metrics"]["stopped_by"] == "SIGTERM" and report["metrics"]["delivered"] == len(notices)
    assert (out / "status" / "index.html").is_file()
    assert f"status page: {out / 'status' / 'index.html'}" in stage
    status = json.loads((out / "status" / "status.json").read_text())
    assert {m["name"] for m in status["monitors"]} == {"homepage", "login", "health"}
    assert len(status["incidents"]) == 4  # health twice (the database, then the app), homepage, login


def test_the_receiver_accepts_lr_ci_s_signed_alert_once_and_refuses_a_forged_one(
    tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    with webhook_receiver(SECRET) as (url, inbox):
        (tmp_path / "lr-ci.toml").write_text(
            f'[[uptime.notify]]\nwebhook = "{url}"\nsecret = "${{DEMO_SECRET}}"\n'
        )
        monkeypatch.setenv("DEMO_SECRET", SECRET)
        sent = cli("--config", str(tmp_path / "lr-ci.toml"), "uptime", "test-alert", "--format", "json")
        assert sent.code == 0, sent.err
        assert SECRET not in sent.out + sent.err
        [notice] = inbox.snapshot()
        assert notice.kind == "test" and notice.key.startswith("test-")
        raw = json.dumps(notice.body).encode()
        again = httpx.post(
            url, content=raw, headers={SIGNATURE_HEADER: sign(SECRET, raw), KEY_HEADER: notice.key}
        )
        assert again.status_code == 200 and inbox.duplicates == [notice.key]
        forged = {**notice.body, "key": "forged:opened:1", "kind": "opened"}
        forged_raw = json.dumps(forged).encode()
        for signature in ("", sign("not-the-secret", forged_raw), sign(SECRET, raw)):
            refused = httpx.post(
                url, content=forged_raw, headers={SIGNATURE_HEADER: signature, KEY_HEADER: "forged:opened:1"}
            )
            assert refused.status_code == 401
        assert inbox.bad_signatures == 3 and len(inbox.snapshot()) == 1
        unkeyed = httpx.post(url, content=forged_raw, headers={SIGNATURE_HEADER: sign(SECRET, forged_raw)})
        assert unkeyed.status_code == 400 and len(inbox.snapshot()) == 1
    assert (
        not (tmp_path / ".lr-ci" / "uptime.sqlite").exists()
        or SECRET.encode() not in (tmp_path / ".lr-ci" / "uptime.sqlite").read_bytes()
    )
