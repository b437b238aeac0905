from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lr_ci import _registry
from lr_ci._registry import CheckSpec
from lr_ci.cli import main

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests run as they would on a developer machine, even when the suite itself runs in Actions."""
    for name in (
        "CI",
        "GITHUB_ACTIONS",
        "GITHUB_STEP_SUMMARY",
        "GITHUB_OUTPUT",
        "GITHUB_EVENT_PATH",
        "NO_COLOR",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def sample_check(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    checks = dict(_registry.CHECKS)
    checks["sample"] = CheckSpec(
        name="sample",
        summary="A sample check for tests.",
        command="sample_check:command",
        settings="sample_check:SampleSettings",
    )
    monkeypatch.setattr(_registry, "CHECKS", checks)
    monkeypatch.setattr("lr_ci.cli.CHECKS", checks)
    yield


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Any:
    """Run ``lr-ci`` in-process and return its exit code, stdout and stderr."""

    def run(*argv: str) -> Result:
        code = main(list(argv))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty git repository as the working directory."""
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    monkeypatch.chdir(path)
    return path


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def copy_of_this_checkout(target: Path) -> None:
    """This checkout's files as they are now (committed or not, ignored ones left out), copied to ``target``."""
    import shutil

    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def lr_ci_executable() -> str:
    """The ``lr-ci`` script of the environment running the tests."""
    return str(Path(sys.executable).with_name("lr-ci"))


@pytest.fixture
def opsapp() -> Iterator[Any]:
    """A factory: ``opsapp(latency_ms=50)`` starts the sample app with those knobs; all stop at the end."""
    from opsapp_server import start_opsapp

    started = []

    def start(wait_ready: bool = True, **knobs: object) -> Any:
        app = start_opsapp(wait_ready=wait_ready, **knobs)
        started.append(app)
        return app

    yield start
    for app in started:
        app.stop()


@pytest.fixture(scope="session")
def opsapp_url() -> Iterator[str]:
    """One sample app with default knobs, shared by the tests that only read from it or clean up after."""
    from opsapp_server import start_opsapp

    app = start_opsapp()
    yield app.url
    app.stop()
