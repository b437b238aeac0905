"""lr-ci demo end to end: every check against the sample app, a summary, the reports left behind."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from conftest import lr_ci_executable

pytestmark = pytest.mark.slow


def test_demo_runs_every_check_and_summarizes(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    done = subprocess.run(
        [lr_ci_executable(), "demo", "--out", str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
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
    assert not list(Path("/tmp").glob("lr-ci-demo-*/demo-repo"))  # its temporary files are gone
