"""The JSON reports of every check on fixed inputs, compared with reports recorded in ``tests/fixtures/reports``.

They were recorded before the shared engines left their checks (issue 15) and hold the schema and the
findings: a move or a rename that changes what a user reads fails here. What varies from run to run is
normalised away first: timings and durations, dates, the sample app's port, temporary paths.

``LR_CI_RECORD=1 pytest tests/test_recorded_reports.py`` writes the files anew (then read the diff).
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers.cli import ROOT, Result
from helpers.git import git

REPORTS = Path(__file__).resolve().parent / "fixtures" / "reports"
OPSAPP_CONFIG = ROOT / "examples" / "opsapp" / "lr-ci.toml"
OPSAPP_DIST = ROOT / "examples" / "opsapp" / "dist"

GH = "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"
AWS = "AKIAZ7Q3WX5KD2LMNB4R"
STRIPE = "sk_live_51Hq9xfogoEmvnEN5N1aE6PwZPf1Qh6yYTWm"
# Commits with fixed dates have fixed ids: the reports name them.
FIXED_DATES = {"GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z"}

# Keys whose numbers are measured, not computed from the input: they become "<measured>".
MEASURED = re.compile(r"(^|_)(ms|s|seconds|duration|elapsed|rps|latency|p\d\d)(_|$)")
DATE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?")
DURATION_TEXT = re.compile(r"\b\d+(\.\d+)?\s?(ms|s)\b")
LOOPBACK = re.compile(r"127\.0\.0\.1:\d+")

Run = Callable[..., Result]


def normalised(value: Any, key: str = "", *, tmp: str = "") -> Any:
    """``value`` with what differs between two runs on the same input replaced by placeholders."""
    if isinstance(value, dict):
        return {k: normalised(v, k, tmp=tmp) for k, v in value.items()}
    if isinstance(value, list):
        return [normalised(v, key, tmp=tmp) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return "<measured>" if MEASURED.search(key) else value
    if isinstance(value, str):
        if tmp:
            value = value.replace(tmp, "<tmp>")
        value = LOOPBACK.sub("127.0.0.1:<port>", value)
        value = DATE.sub("<date>", value)
        return DURATION_TEXT.sub("<duration>", value)
    return value


def report_of(result: Result, tmp: Path) -> Any:
    assert result.code in (0, 1, 2), result.err
    report = result.json()
    for key in ("started_at", "duration_s"):
        assert key in report
        report[key] = f"<{key}>"
    report["tool"]["version"] = "<version>"
    return normalised(report, tmp=str(tmp))


@pytest.fixture
def fixed_git(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in FIXED_DATES.items():
        monkeypatch.setenv(name, value)


def commit(repo: Path, name: str, text: str, message: str) -> None:
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    git(repo, "add", "--", name)
    git(repo, "commit", "-q", "-m", message)


@pytest.fixture
def secrets_repo(repo: Path, fixed_git: None) -> Path:
    """Secrets in the tree, in history only, ignored, and staged."""
    commit(repo, "app/settings.py", f'GITHUB_TOKEN = "{GH}"\nDEBUG = False\n', "settings")
    commit(repo, "deploy/old.env", f"AWS_ACCESS_KEY_ID={AWS}\n", "old env")
    git(repo, "rm", "-q", "deploy/old.env")
    git(repo, "commit", "-q", "-m", "remove the env file")
    (repo / ".gitignore").write_text("local.env\n")
    (repo / "local.env").write_text(f"STRIPE={STRIPE}\n")
    (repo / "notes.txt").write_text(f"aws key {AWS}\n")
    (repo / "billing.py").write_text(f'STRIPE_KEY = "{STRIPE}"\n')
    git(repo, "add", "billing.py")
    return repo


def recorded(name: str, report: Any) -> None:
    path = REPORTS / f"{name}.json"
    text = json.dumps(report, indent=2, sort_keys=True) + "\n"
    if os.environ.get("LR_CI_RECORD") == "1":
        REPORTS.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"no recorded report {path.name}: run with LR_CI_RECORD=1 and read the diff"
    if json.loads(path.read_text()) != report:
        diff = difflib.unified_diff(
            path.read_text().splitlines(), text.splitlines(), "recorded", "now", lineterm=""
        )
        pytest.fail(f"{name}: the report differs from {path.name}:\n" + "\n".join(diff))


@pytest.mark.parametrize("mode", ["working-tree", "staged", "history"])
def test_secrets(secrets_repo: Path, cli: Run, mode: str) -> None:
    args = {"working-tree": [], "staged": ["--staged"], "history": ["--history"]}[mode]
    result = cli("secrets", "--format", "json", *args)
    assert result.code == 1
    recorded(f"secrets-{mode}", report_of(result, secrets_repo))


def test_secrets_path_outside_git(tmp_path: Path, cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "a.yml").write_text(f"token: {GH}\nkey: {STRIPE}\n")
    monkeypatch.chdir(tmp_path)
    result = cli("secrets", "--format", "json", "conf")
    recorded("secrets-path", report_of(result, tmp_path))


@pytest.fixture
def build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The sample app's build, plus a key shipped to every browser and a source map."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    dist = tmp_path / "dist"
    shutil.copytree(OPSAPP_DIST, dist)
    (dist / "assets" / "config-4f9a2c1d.js").write_text(f'export const stripe = "{STRIPE}";\n' * 3)
    (dist / "assets" / "index-BxQ2_9kd.js.map").write_text(
        json.dumps({"version": 3, "sources": ["src/keys.ts"], "sourcesContent": [f'const gh = "{GH}";\n']})
    )
    yield tmp_path


def test_bundle(build: Path, cli: Run) -> None:
    (build / "lr-ci.toml").write_text(
        '[bundle]\nbudgets = [{ files = "assets/*.js", limit = "1 kB" }, '
        '{ files = "assets/*.css", name = "styles", limit = "10 kB" }]\n'
    )
    result = cli("bundle", "--format", "json", "--save-baseline", str(build / "sizes.json"))
    assert result.code == 1
    recorded("bundle", report_of(result, build))
    (build / "dist" / "assets" / "more-77aa00bb.js").write_text("export const x = 1;\n" * 400)
    result = cli("bundle", "--format", "json", "--baseline", str(build / "sizes.json"))
    recorded("bundle-against-baseline", report_of(result, build))


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPS_USER", "ops")
    monkeypatch.setenv("OPS_PASSWORD", "ops-demo-password")


def smoke_report(cli: Run, url: str, tmp_path: Path) -> Any:
    result = cli("--config", str(OPSAPP_CONFIG), "smoke", "--base-url", url, "--format", "json")
    report = report_of(result, tmp_path)
    # How often "report done" was polled depends on the app's worker, not on lr-ci.
    for case in report.get("cases", []):
        if case["name"].endswith("report done"):
            case["message"] = re.sub(r"\d+ attempts?", "<n> attempts", case.get("message") or "") or None
    if "requests" in report["metrics"]:  # the polls of "report done" are requests too
        report["metrics"]["requests"] = "<measured>"
    for flow in report["metrics"].get("flows", {}).values():
        for step in flow.get("steps", {}).values():
            if "attempts" in step:
                step["attempts"] = "<measured>"
    return report


def test_smoke(opsapp: Any, cli: Run, credentials: None, tmp_path: Path) -> None:
    # An app of its own: the ids of the invoices it creates are in the report.
    recorded("smoke", smoke_report(cli, opsapp().url, tmp_path))


def test_smoke_failing(opsapp: Any, cli: Run, credentials: None, tmp_path: Path) -> None:
    app = opsapp(broken_login=1)
    recorded("smoke-broken-login", smoke_report(cli, app.url, tmp_path))


def test_config_check(cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copy(OPSAPP_CONFIG, tmp_path / "good.toml")
    (tmp_path / "bad.toml").write_text('[secrets]\nexclud = ["x"]\n\n[bundle]\nmax_growth = "lots"\n')
    result = cli("config", "check", "--format", "json", "good.toml")
    recorded("config-check", report_of(result, tmp_path))
    result = cli("config", "check", "--format", "json", "good.toml", "bad.toml")
    recorded("config-check-invalid", report_of(result, tmp_path))


P95_CONFIG = """
[p95]
rate = 40
users = 8
rounds = 1
round_seconds = 1.0
warmup_seconds = 0.2
min_samples = 10
seed = 7

[[p95.routes]]
path = "/api/invoices"
headers = { Authorization = "Bearer opsapp-demo-token" }
"""
NUMBER = re.compile(r"\d+(\.\d+)?")


def p95_report(result: Result, tmp: Path) -> Any:
    """Everything a user reads but the numbers that were measured under load: the metrics' shape (every
    number there is measured), the findings' and cases' rule, severity, location and text, numbers masked."""
    report = report_of(result, tmp)

    def shape(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: shape(v) for k, v in value.items()}
        if isinstance(value, list):
            return [shape(v) for v in value]
        if isinstance(value, str):
            return NUMBER.sub("<n>", value)
        return "<measured>" if isinstance(value, (int, float)) and not isinstance(value, bool) else value

    report["metrics"] = shape(report["metrics"])
    for item in (*report["findings"], *report["cases"]):
        item["message"] = NUMBER.sub("<n>", item["message"] or "")
    return report


@pytest.mark.slow
def test_p95(opsapp: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A candidate whose API answers 500 to every request, and one that does not answer at: findings that
    do not depend on how fast this machine is (the gate's timing verdicts are tested in test_p95.py)."""
    from helpers.asgi_server import unused_port_url
    from helpers.cli import lr_ci_executable

    monkeypatch.chdir(tmp_path)
    (tmp_path / "lr-ci.toml").write_text(P95_CONFIG)
    baseline = opsapp().url
    for name, candidate in (
        ("p95-errors", opsapp(error_rate=1.0).url),
        ("p95-unreachable", unused_port_url()),
    ):
        done = subprocess.run(
            [lr_ci_executable(), "p95", "--format", "json", "--baseline", baseline, "--candidate", candidate],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        result = Result(done.returncode, done.stdout, done.stderr)
        assert result.code == 1, result.err
        recorded(name, p95_report(result, tmp_path))
