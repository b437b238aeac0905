"""Issue 14 on real builds: the real Vite 8 and webpack 5 build ``tests/fixtures/bundle-app`` twice.

Between the builds one component of the lazily loaded chunk changes, so that chunk's hash (and the entry's,
which names it) changes. Every file of build 1 must have its counterpart in build 2 under lr-ci's stable
names, and the changed chunk must be measured as grown against the baseline, not as one file removed and
another added. With the pinned Vite, build 2 names the chunk ``Dashboard-1-qGr9-d.js``: a hash with a
``-``, the issue's case.

The app's dependencies are pinned exactly in its ``package-lock.json`` and installed with ``npm ci`` into a
temporary copy; npm's cache (``~/.npm``) keeps repeat runs at a few seconds. Without ``node`` or ``npm`` the
tests skip, unless ``LR_CI_REQUIRE_REFERENCE_TOOLS`` is set (CI sets it): then they fail.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lr_ci.checks.bundle.names import distinct_stable_names
from lr_ci.checks.bundle.sizes import stable_name

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "bundle-app"
NPM_CI_TIMEOUT_S = 300
"""A cold npm cache downloads about 75 packages (some 30 MB); a warm one installs in under 10 s."""
BUILD_TIMEOUT_S = 60
FIRST, SECOND = "one", "grown 1"
"""The Dashboard component's text in build 1 and build 2 (see src/Dashboard.js)."""

pytestmark = pytest.mark.slow


def _tools() -> tuple[str, str]:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        missing = ", ".join(name for name, path in (("node", node), ("npm", npm)) if path is None)
        if os.environ.get("LR_CI_REQUIRE_REFERENCE_TOOLS"):
            pytest.fail(f"missing reference tools for the real builds: {missing}")
        pytest.skip(f"the real Vite and webpack builds need {missing}")
    return node, npm


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the fixture app with its locked dependencies installed (``npm ci``)."""
    _, npm = _tools()
    root = tmp_path_factory.mktemp("bundle-app") / "app"
    shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns("node_modules", "dist"))
    env = {**os.environ, "npm_config_update_notifier": "false", "npm_config_loglevel": "error"}
    done = subprocess.run(
        [npm, "ci", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=NPM_CI_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, f"npm ci failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return root


@pytest.fixture
def project(app: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(app)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    yield app
    shutil.rmtree(app / "dist", ignore_errors=True)


def build(app: Path, bundler: str, text: str) -> list[str]:
    """Build the app with ``bundler`` (vite or webpack), the Dashboard showing ``text``; the built names."""
    node, _ = _tools()
    source = (FIXTURE / "src" / "Dashboard.js").read_text().replace("CHANGE_ME", text)
    (app / "src" / "Dashboard.js").write_text(source)
    script = [str(app / "node_modules" / "vite" / "bin" / "vite.js"), "build"]
    if bundler == "webpack":
        script = [str(app / "webpack.build.mjs")]
    done = subprocess.run(
        [node, *script], cwd=app, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, check=False
    )
    assert done.returncode == 0, f"{bundler} build failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    out = app / "dist" / bundler
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())


def stable_names(paths: list[str]) -> dict[str, str]:
    """stable name -> built name, as lr-ci names a build's files (collisions kept apart)."""
    names = distinct_stable_names([(p, stable_name(p)) for p in paths])
    return dict(zip(names, paths, strict=True))


def compare(cli: Any, bundler: str, project: Path) -> tuple[list[str], list[str], dict[str, Any]]:
    """Build twice, save the first build's sizes, and compare the second with them."""
    first = build(project, bundler, FIRST)
    dist = f"dist/{bundler}"
    assert cli("bundle", dist, "--save-baseline", "base.json").code == 0
    second = build(project, bundler, SECOND)
    result = cli("bundle", dist, "--baseline", "base.json", "--format", "json")
    assert result.code in (0, 1), result.err
    return first, second, result.json()


def assert_every_file_matches(
    first: list[str], second: list[str], report: dict[str, Any], chunk: str
) -> None:
    before, after = stable_names(first), stable_names(second)
    assert len(before) == len(first) and len(after) == len(second)  # no two files share a name
    assert set(before) == set(after), (first, second)
    changed = {stable for stable in before if before[stable] != after[stable]}
    assert chunk in changed, f"the change did not alter {chunk}'s hash: {first} -> {second}"
    metrics = report["metrics"]
    assert metrics["new_files"] == [] and metrics["removed_files"] == []
    assert set(metrics["file_sizes"]) == set(after)
    for stable, sizes in metrics["file_sizes"].items():
        assert sizes["path"] == after[stable] and sizes["base"] is not None, stable
    grown = metrics["file_sizes"][chunk]
    assert grown["raw"] > grown["base"]["raw"], grown
    rows = {row[0]: row for row in report["tables"][1]["rows"]}
    assert rows[chunk][4] not in ("new", "removed") and rows[chunk][3].startswith("+"), rows[chunk]


def test_vite_builds_match_file_by_file(project: Path, cli: Any) -> None:
    first, second, report = compare(cli, "vite", project)
    assert_every_file_matches(first, second, report, "assets/Dashboard.js")
    dashboard = next(p for p in second if p.startswith("assets/Dashboard-"))
    # The pinned Vite writes a '-' into this chunk's hash: the name lr-ci missed before issue 14.
    assert re.fullmatch(r"assets/Dashboard-[A-Za-z0-9_-]{8}\.js", dashboard)
    assert "-" in dashboard.removeprefix("assets/Dashboard-"), dashboard
    assert stable_name(dashboard) == "assets/Dashboard.js"


def test_webpack_builds_match_file_by_file(project: Path, cli: Any) -> None:
    first, second, report = compare(cli, "webpack", project)
    lazy = next(p for p in first if re.fullmatch(r"\d+\.[0-9a-f]{20}\.js", p))  # [id].[contenthash]
    chunk = stable_name(lazy)
    assert re.fullmatch(r"\d+\.js", chunk)
    assert_every_file_matches(first, second, report, chunk)
    assert "[hash].svg" in report["metrics"]["file_sizes"]  # the asset module's [hash][ext]
