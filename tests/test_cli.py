from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.cli import ROOT, Cli, lr_ci_executable

pytestmark = pytest.mark.usefixtures("sample_check")


def test_exit_0_when_the_check_passes(repo: Path, cli: Cli) -> None:
    result = cli("sample", "--finding", "info:a.py:1", "--format", "json")
    assert result.code == 0 and result.json()["status"] == "pass"


def test_exit_1_when_a_finding_reaches_the_failing_severity(repo: Path, cli: Cli) -> None:
    (repo / "lr-ci.toml").write_text("[sample]\nfail_on = 'high'\n")
    assert cli("sample", "--finding", "medium:a.py:1").code == 0
    result = cli("sample", "--finding", "high:a.py:1", "--format", "json")
    assert result.code == 1 and result.json()["status"] == "fail"


def test_exit_1_when_a_case_fails(repo: Path, cli: Cli) -> None:
    result = cli("sample", "--case", "login:pass", "--case", "report:fail", "--format", "json")
    assert result.code == 1
    assert [c["status"] for c in result.json()["cases"]] == ["pass", "fail"]


def test_exit_2_reports_status_error_in_json(repo: Path, cli: Cli) -> None:
    (repo / "lr-ci.toml").write_text("[sample]\nbogus = 1\n")
    result = cli("sample", "--format", "json")
    assert result.code == 2
    report = result.json()
    assert report["status"] == "error"
    assert report["error"] == "lr-ci.toml:2: sample.bogus: unknown key"
    assert result.err.strip() == "lr-ci sample: error: lr-ci.toml:2: sample.bogus: unknown key"


@pytest.mark.parametrize(
    "argv",
    [
        ["--format", "json", "sample"],
        ["sample", "--format", "json"],
        ["--format", "text", "sample", "--format", "json"],
    ],
)
def test_global_options_before_or_after_the_check(repo: Path, cli: Cli, argv: list[str]) -> None:
    result = cli(*argv)
    assert result.code == 0
    assert result.json()["check"] == "sample"


def test_outputs_given_before_and_after_are_all_written(repo: Path, cli: Cli) -> None:
    result = cli("--output", "json:a.json", "sample", "--output", "junit:b.xml")
    assert result.code == 0
    assert json.loads((repo / "a.json").read_text())["check"] == "sample"
    assert (repo / "b.xml").read_text().startswith("<?xml")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["sample", "--output", "json"], "expected FMT:PATH"),
        (["sample", "--output", "pdf:x.pdf"], "unknown format 'pdf'"),
        (["sample", "--output", "json:/proc/forbidden/x.json"], "cannot write"),
    ],
)
def test_bad_output_is_exit_2_in_one_line(repo: Path, cli: Cli, argv: list[str], message: str) -> None:
    result = cli(*argv)
    assert result.code == 2
    assert len(result.err.strip().splitlines()) == 1 and message in result.err


def test_usage_errors_are_exit_2(repo: Path, cli: Cli) -> None:
    assert cli("nosuchcheck").code == 2
    assert cli("sample", "--format", "pdf").code == 2
    result = cli("sample", "--quiet", "--verbose")
    assert result.code == 2 and "--quiet and --verbose cannot be used together" in result.err


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["nosuchcheck"], "lr-ci: error: No such command 'nosuchcheck'. (see lr-ci --help)"),
        (["--format", "pdf", "secrets"], "lr-ci: error: Invalid value for '--format': 'pdf' is not one of"),
        (["secrets", "--bogus"], "lr-ci secrets: error: No such option '--bogus'."),
        (
            ["smoke", "--timeout", "abc"],
            "lr-ci smoke: error: Invalid value for '--timeout': 'abc' is not a valid",
        ),
        (
            ["p95", "--rounds", "x"],
            "lr-ci p95: error: Invalid value for '--rounds': 'x' is not a valid integer",
        ),
    ],
)
def test_a_usage_error_is_one_line_naming_the_option(
    repo: Path, cli: Cli, argv: list[str], line: str
) -> None:
    result = cli(*argv)
    assert result.code == 2
    assert len(result.err.strip().splitlines()) == 1, result.err
    assert result.err.startswith(line), result.err


def test_default_format_is_github_inside_actions(
    repo: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    result = cli("sample", "--finding", "high:a.py:4")
    assert result.out.startswith("::error file=a.py,line=4,col=3,title=lr-ci sample%3A sample-rule::")


def test_no_colour_without_a_tty(repo: Path) -> None:
    # A pseudo-terminal would be needed for colour; NO_COLOR must win even then.
    import os
    import pty

    def run(env: dict[str, str]) -> bytes:
        main_fd, child_fd = pty.openpty()
        subprocess.run(
            [lr_ci_executable(), "config", "check"],
            stdout=child_fd,
            stderr=child_fd,
            cwd=repo,
            env={**os.environ, **env},
            check=False,
            timeout=60,
        )
        os.close(child_fd)
        data = os.read(main_fd, 65536)
        os.close(main_fd)
        return data

    assert b"\x1b[32mPASS" in run({})
    assert b"\x1b[" not in run({"NO_COLOR": "1"})


def test_help_lists_checks_and_version(cli: Cli) -> None:
    result = cli("--help")
    assert result.code == 0
    assert "sample" in result.out and "config" in result.out
    assert cli("--version").out.strip() == "lr-ci, version 0.1.0"
    sub = cli("sample", "--help")
    assert sub.code == 0 and "--format" in sub.out and "--output FMT:PATH" in sub.out


HEAVY = ("pydantic", "httpx", "git", "detect_secrets", "locust", "gevent", "jsonschema", "lr_ci.config")


@pytest.mark.parametrize("argv", [["--help"], ["config", "--help"], ["config", "check", "--help"]])
def test_start_up_imports_nothing_heavy(argv: list[str]) -> None:
    code = (
        "import sys\nfrom lr_ci.cli import main\n"
        f"code = main({argv!r})\n"
        f"loaded = sorted(m for m in {HEAVY!r} if m in sys.modules)\n"
        "print('LOADED', loaded)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip().endswith("LOADED []")


def test_console_script_and_module_entry_points(repo: Path) -> None:
    for argv in ([lr_ci_executable()], [sys.executable, "-m", "lr_ci"]):
        result = subprocess.run(
            [*argv, "config", "check", "--format", "json"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["status"] == "pass"


def test_progress_only_on_a_terminal_and_never_in_ci(repo: Path) -> None:
    import os
    import pty

    from helpers.git import git

    for index in range(30):
        (repo / f"f{index}.txt").write_text(f"{index}\n")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", f"c{index}")

    def run(env: dict[str, str], *extra: str) -> bytes:
        main_fd, child_fd = pty.openpty()
        subprocess.run(
            [lr_ci_executable(), "secrets", "--history", *extra],
            stdout=subprocess.DEVNULL,
            stderr=child_fd,
            cwd=repo,
            env={**os.environ, **env},
            check=False,
            timeout=60,
        )
        os.close(child_fd)
        try:
            return os.read(main_fd, 65536)
        except OSError:
            return b""
        finally:
            os.close(main_fd)

    clean_env = {k: v for k, v in os.environ.items() if k != "CI"}
    shown = run({**clean_env, "CI": ""})
    assert b"scanning commits" in shown
    assert b"scanning commits" not in run({"CI": "true"})
    assert b"scanning commits" not in run({"CI": ""}, "--quiet")
