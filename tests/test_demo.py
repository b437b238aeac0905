"""lr-ci demo end to end: every check against the sample app, a summary, the reports left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from helpers.cli import lr_ci_executable
from helpers.git import copy_of_this_checkout
from helpers.load_sensitive import LOAD_SENSITIVE

pytestmark = pytest.mark.slow


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
    assert "4/4 bundle" in done.stderr and f"reports in {out}" in done.stderr
    assert "Must fix before launch:" in done.stdout
    for check in ("secrets", "smoke", "p95", "bundle"):
        for suffix in ("json", "md", "junit.xml", "sarif"):
            assert (out / f"{check}.{suffix}").is_file()
    statuses = {
        c: json.loads((out / f"{c}.json").read_text())["status"]
        for c in ("secrets", "smoke", "p95", "bundle")
    }
    assert statuses == {"secrets": "fail", "smoke": "fail", "p95": "fail", "bundle": "pass"}
    assert "ops-demo-password" not in done.stdout + done.stderr + (out / "smoke.json").read_text()
    assert not list(temp.glob("lr-ci-demo-*/demo-repo"))  # its temporary files are gone
