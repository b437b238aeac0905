"""lr-ci init on fixture repositories: a Vite app, a Django app, a FastAPI app with a health route, an empty
repository, and the sample ops app (whose monitors then run against it)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from helpers.cli import ROOT, Cli
from helpers.git import git
from lr_ci.build_info import built_from


def tool(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


@pytest.fixture
def vite_app(repo: Path) -> Path:
    (repo / "package.json").write_text(
        json.dumps(
            {
                "name": "ops-console",
                "scripts": {"build": "vite build"},
                "devDependencies": {"vite": "^7.0.0", "typescript": "^5.6.0"},
            }
        )
    )
    (repo / "src").mkdir()
    (repo / "src" / "main.ts").write_text("console.log('ops')\n")
    return repo


@pytest.fixture
def django_app(repo: Path) -> Path:
    (repo / "manage.py").write_text("#!/usr/bin/env python\nimport django\n")
    (repo / "requirements.txt").write_text("Django==5.1\npsycopg[binary]\n")
    (repo / ".secrets.baseline").write_text(json.dumps({"version": "1.5.0", "results": {}}))
    return repo


def test_vite_app(vite_app: Path, cli: Cli) -> None:
    result = cli("init", "--workflows", "--format", "json")
    assert result.code == 0, result.err
    report = result.json()
    assert report["metrics"]["detected"]["bundler"] == "vite"
    assert sorted(report["metrics"]["written"]) == [
        ".github/workflows/lr-ci-uptime.yml",
        ".github/workflows/lr-ci.yml",
        ".pre-commit-config.yaml",
        "lr-ci.toml",
    ]
    config = (vite_app / "lr-ci.toml").read_text()
    assert 'dirs = ["dist"]' in config and 'limit = "250 kB"' in config
    assert cli("config", "check").code == 0
    assert "bundle:" in (vite_app / ".github" / "workflows" / "lr-ci.yml").read_text()
    uptime = uptime_of(config)
    assert [m["name"] for m in uptime["monitors"]] == ["homepage"]  # no login flow, no health route found
    assert uptime["window"] == "15m"  # the scheduled workflow's runs are 5 minutes apart


def test_django_app(django_app: Path, cli: Cli) -> None:
    assert cli("init").code == 0
    config = (django_app / "lr-ci.toml").read_text()
    assert 'path = "/accounts/login/?next=/"' in config and "submit_form" in config
    assert 'detect_secrets_baseline = ".secrets.baseline"' in config
    assert "\n[bundle]\n" not in config
    result = cli("config", "check", "--format", "json")
    assert result.code == 0
    assert {f["rule"] for f in result.json()["findings"]} == {"config-env-unset"}  # ${OPS_USER}: set in CI
    uptime = uptime_of(config)
    assert [m["name"] for m in uptime["monitors"]] == ["homepage", "login"]
    assert uptime["monitors"][1]["flow"] == "login" and uptime["window"] == "5m"


def test_empty_repository(repo: Path, cli: Cli) -> None:
    assert cli("init", "--workflows").code == 0
    assert cli("config", "check").code == 0
    assert "bundle:" not in (repo / ".github" / "workflows" / "lr-ci.yml").read_text()
    uptime_workflow = (repo / ".github" / "workflows" / "lr-ci-uptime.yml").read_text()
    assert "OPS_PASSWORD" not in uptime_workflow  # no login flow was generated, so no credentials passed


def uptime_of(config: str) -> dict[str, Any]:
    """The ``[uptime]`` table of a written lr-ci.toml, as TOML reads it."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    table: dict[str, Any] = tomllib.loads(config)["uptime"]
    return table


def test_fastapi_app_with_a_health_route(repo: Path, cli: Cli) -> None:
    """The homepage, the login flow and the health endpoint found in the source; a notification
    placeholder with ${...} references; valid for config check; the scheduled workflow pinned."""
    (repo / "requirements.txt").write_text("fastapi==0.115\nuvicorn\n")
    (repo / "app").mkdir()
    (repo / "app" / "main.py").write_text(
        'from fastapi import FastAPI\n\napp = FastAPI()\n\n\n@app.get("/api/healthz")\n'
        'def health() -> dict[str, str]:\n    return {"status": "ok"}\n'
    )
    result = cli("init", "--workflows", "--format", "json")
    assert result.code == 0, result.err
    assert result.json()["metrics"]["detected"]["health"] == "/api/healthz"
    config = (repo / "lr-ci.toml").read_text()
    uptime = uptime_of(config)
    assert [(m["name"], m.get("url"), m.get("flow")) for m in uptime["monitors"]] == [
        ("homepage", "https://ops.example.com/", None),
        ("login", None, "login"),
        ("health", "https://ops.example.com/api/healthz", None),
    ]
    assert "# /api/healthz is defined in app/main.py" in config
    assert "notify" not in uptime  # a placeholder, commented: the team's own URL goes there
    placeholder = config[config.index("# Where alerts go") :]
    assert "# [[uptime.notify]]" in placeholder
    assert '# secret = "${UPTIME_WEBHOOK_SECRET}"' in placeholder and "${SLACK_TOKEN_A}" in placeholder
    checked = cli("config", "check", "--format", "json")
    assert checked.code == 0, checked.err
    assert {f["rule"] for f in checked.json()["findings"]} == {"config-env-unset"}  # the login's ${OPS_*}
    webhook = placeholder[: placeholder.index("#\n")]  # the first target: lr-ci's signed webhook
    uncommented = placeholder.replace(webhook, re.sub(r"(?m)^# (\[\[|webhook|secret)", r"\1", webhook))
    (repo / "lr-ci.toml").write_text(config.replace(placeholder, uncommented))
    assert len(uptime_of((repo / "lr-ci.toml").read_text())["notify"]) == 1
    assert cli("config", "check").code == 0  # the placeholder is valid once uncommented
    workflow = (repo / ".github" / "workflows" / "lr-ci-uptime.yml").read_text()
    commit = built_from()
    assert commit is not None
    assert f"uses: lr-ci/lr-ci/actions/uptime@{commit} # v" in workflow
    pr_workflow = (repo / ".github" / "workflows" / "lr-ci.yml").read_text()
    assert f"lr-ci/lr-ci/actions/secrets@{commit} # v" in pr_workflow  # pinned as the others
    assert 'cron: "*/5 * * * *"' in workflow and "group: lr-ci-uptime" in workflow
    assert "OPS_PASSWORD: ${{ secrets.OPS_PASSWORD }}" in workflow


@pytest.mark.parametrize(
    ("where", "source", "found"),
    [
        ("ops/urls.py", 'urlpatterns = [path("health/", views.health)]\n', "/health"),
        ("server.js", "app.get('/api/v1/health', (req, res) => res.json({}))\n", "/api/v1/health"),
        ("tests/test_app.py", 'client.get("/healthz")\n', None),  # a test's request, not the app's route
        ("node_modules/x/index.js", 'app.get("/healthz")\n', None),
        ("app/main.py", '"""Serves ``/healthz``."""\n', None),  # prose, not a route
    ],
)
def test_health_route_detection(repo: Path, cli: Cli, where: str, source: str, found: str | None) -> None:
    (repo / where).parent.mkdir(parents=True, exist_ok=True)
    (repo / where).write_text(source)
    result = cli("init", "--format", "json")
    assert result.code == 0, result.err
    assert result.json()["metrics"]["detected"]["health"] == found
    monitors = uptime_of((repo / "lr-ci.toml").read_text())["monitors"]
    assert [m["name"] for m in monitors] == ["homepage"] + (["health"] if found else [])


def test_the_monitors_init_writes_for_the_sample_app_pass_against_it(
    repo: Path, cli: Cli, opsapp_url: str
) -> None:
    """init on the sample app finds its /healthz; pointed at the running app, one round of the monitors it
    wrote passes (homepage and health answer as they promised)."""
    shutil.copytree(ROOT / "examples" / "opsapp" / "opsapp", repo / "opsapp")
    result = cli("init", "--format", "json")
    assert result.code == 0 and result.json()["metrics"]["detected"]["health"] == "/healthz"
    config = repo / "lr-ci.toml"
    config.write_text(config.read_text().replace("https://ops.example.com", opsapp_url))
    checked = cli("uptime", "check", "--once", "--state", str(repo / "state.sqlite"), "--format", "json")
    assert checked.code == 0, checked.err
    per_monitor = checked.json()["metrics"]["per_monitor"]
    assert {name: m["ok"] for name, m in per_monitor.items()} == {"homepage": True, "health": True}


def test_never_overwrites_without_force(vite_app: Path, cli: Cli) -> None:
    (vite_app / "lr-ci.toml").write_text("# mine\n")
    result = cli("init")
    assert result.code == 2 and "never overwrites a file (--force does)" in result.err
    assert (vite_app / "lr-ci.toml").read_text() == "# mine\n"
    (vite_app / ".pre-commit-config.yaml").write_text("repos: []\n")
    result = cli("init", "--force", "--workflows", "--format", "json")
    assert result.code == 0 and "lr-ci.toml" in result.json()["metrics"]["written"]
    assert (vite_app / ".pre-commit-config.yaml").read_text() != "repos: []\n"
    (vite_app / "lr-ci.toml").unlink()
    (vite_app / ".pre-commit-config.yaml").write_text("repos: []\n")
    result = cli("init", "--workflows", "--format", "json")
    assert result.code == 0
    assert [f["location"]["path"] for f in result.json()["findings"]] == [
        ".github/workflows/lr-ci.yml",
        ".github/workflows/lr-ci-uptime.yml",
        ".pre-commit-config.yaml",
    ]
    assert (vite_app / ".pre-commit-config.yaml").read_text() == "repos: []\n"


@pytest.mark.slow
def test_written_workflows_pass_the_schema_and_zizmor(vite_app: Path, cli: Cli) -> None:
    assert cli("init", "--workflows").code == 0
    for name in ("lr-ci.yml", "lr-ci-uptime.yml"):
        workflow = vite_app / ".github" / "workflows" / name
        schema = subprocess.run(
            [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(workflow)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert schema.returncode == 0, schema.stdout + schema.stderr
        zizmor = subprocess.run(
            [tool("zizmor"), "--offline", "--persona", "auditor", "--no-progress", str(workflow)],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "NO_COLOR": "1"},
        )
        assert zizmor.returncode == 0, zizmor.stdout + zizmor.stderr
    pre_commit = subprocess.run(
        [tool("pre-commit"), "validate-config", str(vite_app / ".pre-commit-config.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert pre_commit.returncode == 0, pre_commit.stdout + pre_commit.stderr
    git(vite_app, "status")
