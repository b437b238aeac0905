"""lr-ci init on fixture repositories: a Vite app, a Django app, an empty repository."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.cli import Cli
from helpers.git import git


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
        ".github/workflows/lr-ci.yml",
        ".pre-commit-config.yaml",
        "lr-ci.toml",
    ]
    config = (vite_app / "lr-ci.toml").read_text()
    assert 'dirs = ["dist"]' in config and 'limit = "250 kB"' in config
    assert cli("config", "check").code == 0
    assert "bundle:" in (vite_app / ".github" / "workflows" / "lr-ci.yml").read_text()


def test_django_app(django_app: Path, cli: Cli) -> None:
    assert cli("init").code == 0
    config = (django_app / "lr-ci.toml").read_text()
    assert 'path = "/accounts/login/?next=/"' in config and "submit_form" in config
    assert 'detect_secrets_baseline = ".secrets.baseline"' in config
    assert "\n[bundle]\n" not in config
    result = cli("config", "check", "--format", "json")
    assert result.code == 0
    assert {f["rule"] for f in result.json()["findings"]} == {"config-env-unset"}  # ${OPS_USER}: set in CI


def test_empty_repository(repo: Path, cli: Cli) -> None:
    assert cli("init", "--workflows").code == 0
    assert cli("config", "check").code == 0
    assert "bundle:" not in (repo / ".github" / "workflows" / "lr-ci.yml").read_text()


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
        ".pre-commit-config.yaml",
    ]
    assert (vite_app / ".pre-commit-config.yaml").read_text() == "repos: []\n"


@pytest.mark.slow
def test_written_workflows_pass_the_schema_and_zizmor(vite_app: Path, cli: Cli) -> None:
    assert cli("init", "--workflows").code == 0
    workflow = vite_app / ".github" / "workflows" / "lr-ci.yml"
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
