from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trustme

from helpers.cli import Cli, Result
from helpers.git import git
from helpers.opsapp_server import RunningApp, start_opsapp
from lr_ci import _registry
from lr_ci._registry import CheckSpec
from lr_ci.cli import main


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
        command="helpers.sample_check:command",
        settings="helpers.sample_check:SampleSettings",
    )
    monkeypatch.setattr(_registry, "CHECKS", checks)
    monkeypatch.setattr("lr_ci.cli.CHECKS", checks)
    yield


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
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


@pytest.fixture
def opsapp() -> Iterator[Callable[..., RunningApp]]:
    """A factory: ``opsapp(latency_ms=50)`` starts the sample app with those knobs; all stop at the end."""
    started: list[RunningApp] = []

    def start(wait_ready: bool = True, **knobs: object) -> RunningApp:
        app = start_opsapp(wait_ready=wait_ready, **knobs)
        started.append(app)
        return app

    yield start
    for app in started:
        app.stop()


@pytest.fixture(scope="session")
def opsapp_url() -> Iterator[str]:
    """One sample app with default knobs, shared by the tests that only read from it or clean up after."""
    app = start_opsapp()
    yield app.url
    app.stop()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    """A certificate authority of the test's own (trustme), for TLS servers on loopback."""
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    """``ca``'s certificate as a PEM file, for clients that take a CA file."""
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)
