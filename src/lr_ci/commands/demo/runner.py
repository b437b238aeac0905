"""The demo: a repository with a leaked key, the sample app (twice, one slowed), and each check run as a
user would run it (the real command, in its own process), then one summary of what blocks the launch.

Loopback only; everything it starts is stopped and its temporary files removed; the reports stay in the
folder it names.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lr_ci
from lr_ci.errors import LrCiError
from lr_ci.report import Case, Report, Severity, Table

FAKE_KEY = "AKIA" + "Z7Q3WX5KD2LMNB4R"  # made up for the demo, split so this file is not a finding itself
APP_PASSWORD = "ops-demo-password"  # noqa: S105 - the sample app's demo account, on loopback
START_TIMEOUT_S = 30.0

DEMO_CONFIG = """
[smoke]
timeout_s = 5

[[smoke.flows.login.steps]]
name = "login page"
path = "/login"
capture = {{ csrf = {{ css = "input[name=csrf_token]", attr = "value" }} }}
[[smoke.flows.login.steps]]
name = "sign in"
method = "POST"
path = "/login"
form = {{ csrf_token = "{{csrf}}", username = "${{OPS_USER}}", password = "${{OPS_PASSWORD}}" }}
expect = {{ status = 303, redirect = "/dashboard" }}
[[smoke.flows.login.steps]]
name = "dashboard"
path = "/dashboard"
expect = {{ body_contains = ["Signed in as"] }}

[smoke.flows.cookie-policy]
use = ["login"]
[[smoke.flows.cookie-policy.steps]]
name = "session cookie is Secure"
path = "/login"
expect = {{ status = 200 }}
[[smoke.flows.cookie-policy.steps]]
name = "sign in again"
method = "POST"
path = "/login"
submit_form = {{ fields = {{ username = "${{OPS_USER}}", password = "${{OPS_PASSWORD}}" }} }}
expect = {{ status = 303, cookies = {{ opsapp_session = {{ secure = true, http_only = true }} }} }}

[p95]
rate = 40
users = 8
rounds = 2
round_seconds = 2.5
warmup_seconds = 1
min_samples = 60

[bundle]
dirs = ["{dist}"]
[[bundle.budgets]]
name = "javascript"
files = "**/*.js"
limit = "250 kB"
[[bundle.budgets]]
name = "css"
files = "**/*.css"
limit = "50 kB"
"""


def sample_app_dir() -> Path:
    """The sample app: in the wheel (``lr_ci/_sample_app``), or in a source checkout (examples/opsapp)."""
    package = Path(lr_ci.__file__).resolve().parent
    for found in (package / "_sample_app", package.parents[1] / "examples" / "opsapp"):
        if (found / "opsapp" / "app.py").is_file():
            return found
    raise LrCiError(
        "the sample app is missing from this install of lr-ci: reinstall it (pip install 'lr-ci[demo]') "
        "or run the demo from a clone (python3 dev.py run)"
    )


@dataclass
class App:
    """A running sample app: where it answers, and its process."""

    url: str
    process: subprocess.Popen[str]


def start_app(directory: Path, port: int = 0, **knobs: Any) -> App:
    """The sample app in its own process, listening on ``port`` (0: a free one), with ``OPSAPP_<KNOB>``
    set from ``knobs``; returns once it listens. Stop it with :func:`stop_app`."""
    env = {**os.environ, "PYTHONPATH": str(directory), "PYTHONUNBUFFERED": "1"}
    env.update({f"OPSAPP_{k.upper()}": str(v) for k, v in knobs.items()})
    process = subprocess.Popen(
        [sys.executable, "-m", "opsapp", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    app = App("", process)
    try:
        assert process.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(process.stdout, selectors.EVENT_READ)
        line = process.stdout.readline().strip() if selector.select(timeout=START_TIMEOUT_S) else ""
        if not line.startswith("opsapp listening on "):
            raise LrCiError("the sample app did not start (pip install 'lr-ci[demo]' brings its packages)")
    except BaseException:
        stop_app(app)
        raise
    app.url = line.removeprefix("opsapp listening on ")
    return app


def stop_app(app: App) -> None:
    """SIGTERM, then SIGKILL after 10 s: the app's socket is closed when this returns."""
    app.process.terminate()
    try:
        app.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        app.process.kill()
        app.process.wait(timeout=10)
    if app.process.stdout is not None:
        app.process.stdout.close()


@contextmanager
def _app(directory: Path, **knobs: Any) -> Iterator[App]:
    app = start_app(directory, **knobs)
    try:
        yield app
    finally:
        stop_app(app)


def _demo_repository(root: Path) -> Path:
    """A small repository whose history holds a key that a later commit deleted."""
    repo = root / "demo-repo"
    repo.mkdir()

    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.name=Demo", "-c", "user.email=demo@example.com", *args],
            cwd=repo,
            check=True,
            capture_output=True,
        )

    git("init", "-q", "-b", "main")
    (repo / "app.py").write_text("import os\nBUCKET = os.environ['INVOICE_BUCKET']\n")
    (repo / "deploy.env").write_text(f"AWS_ACCESS_KEY_ID={FAKE_KEY}\nAWS_REGION=eu-west-1\n")
    git("add", "-A")
    git("commit", "-q", "-m", "deploy script")
    (repo / "deploy.env").unlink()
    git("add", "-A")
    git("commit", "-q", "-m", "remove the env file")
    return repo


def report_outputs(reports: Path, name: str) -> list[str]:
    """``--output`` options for the four report files of a stage (JSON, markdown, JUnit, SARIF)."""
    options = []
    for fmt, ext in (("json", "json"), ("markdown", "md"), ("junit", "junit.xml"), ("sarif", "sarif")):
        options += ["--output", f"{fmt}:{reports / f'{name}.{ext}'}"]
    return options


def _lr_ci(args: list[str], cwd: Path, reports: Path, name: str, env: dict[str, str]) -> dict[str, Any]:
    command = [sys.executable, "-m", "lr_ci", *args[:2], *args[2:], "--format", "text", "--quiet"]
    command += report_outputs(reports, name)
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)
    report_path = reports / f"{name}.json"
    if not report_path.is_file():
        raise LrCiError(f"lr-ci {args[0]} did not run: {done.stderr.strip()[-300:]}")
    report: dict[str, Any] = json.loads(report_path.read_text())
    return report


def run(out: Path, say: Callable[[str], None]) -> Report:
    app_dir = sample_app_dir()
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="lr-ci-demo-"))
    env = {**os.environ, "OPS_USER": "ops", "OPS_PASSWORD": APP_PASSWORD, "NO_COLOR": "1"}
    env.pop("GITHUB_ACTIONS", None)
    config = work / "lr-ci.toml"
    config.write_text(DEMO_CONFIG.format(dist=app_dir / "dist"))
    results: dict[str, dict[str, Any]] = {}
    cases: list[Case] = []
    try:
        say("1/5 secrets: a small repository whose history holds an AWS key a later commit deleted")
        repo = _demo_repository(work)
        results["secrets"] = _lr_ci(
            ["--config", str(config), "secrets", "--history"], repo, out, "secrets", env
        )
        cases.append(_expect("secrets finds the deleted key", results["secrets"], "fail"))

        with (
            _app(app_dir, latency_ms=20, jitter_ms=4) as app,
            _app(app_dir, latency_ms=45, jitter_ms=9) as slow,
        ):
            say(f"2/5 smoke: the sample ops app at {app.url}: login works; its session cookie is not Secure")
            results["smoke"] = _lr_ci(
                ["--config", str(config), "smoke", "--base-url", app.url], work, out, "smoke", env
            )
            cases.append(_expect("smoke: login passes, the cookie policy fails", results["smoke"], "fail"))
            say(
                f"3/5 p95: {app.url} (baseline) against {slow.url} "
                "(a deploy that made its requests more than twice as slow)"
            )
            results["p95"] = _lr_ci(
                ["--config", str(config), "p95", "--baseline", app.url, "--candidate", slow.url],
                work,
                out,
                "p95",
                env,
            )
            cases.append(_expect("p95 catches the slowdown", results["p95"], "fail"))
        say("4/5 bundle: the app's built frontend (dist/) against its budgets")
        results["bundle"] = _lr_ci(["--config", str(config), "bundle"], work, out, "bundle", env)
        cases.append(_expect("bundle is within budget", results["bundle"], "pass"))

        from lr_ci.commands.demo import uptime_stage

        results["uptime"], uptime_cases = uptime_stage.run(
            app_dir,
            work,
            out,
            config.read_text(),
            env,
            lambda name: report_outputs(out, name),
            say,
        )
        cases += uptime_cases
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = Report(check="demo", fail_at=None, cases=cases)
    report.tables = _summary(results)
    report.metrics = {
        "reports": str(out),
        "seconds": round(time.monotonic() - started, 1),
        "statuses": {name: result["status"] for name, result in results.items()},
    }
    return report


def _expect(name: str, result: dict[str, Any], wanted: str) -> Case:
    ok = result["status"] == wanted
    return Case(
        name=name,
        status="pass" if ok else "fail",
        message=f"{result['check']}: {result['status']}" + ("" if ok else f" (the demo expected {wanted})"),
    )


def _summary(results: dict[str, dict[str, Any]]) -> list[Table]:
    """What would block the launch (failing, high or critical) and what can wait (the rest)."""
    must: list[list[str]] = []
    later: list[list[str]] = []
    for name, result in results.items():
        for finding in result.get("findings", []):
            where = finding["location"].get("path") or finding["location"].get("url") or ""
            row = [name, finding["severity"], finding["message"][:160], where]
            blocking = Severity(finding["severity"]).at_least(Severity.HIGH) and result["status"] == "fail"
            (must if blocking else later).append(row)
    columns = ["check", "severity", "what", "where"]
    return [
        Table("Must fix before launch", columns, must or [["–", "", "nothing", ""]]),
        Table("Can wait", columns, later or [["–", "", "nothing", ""]]),
    ]
