"""The process entry point (``lr_ci._entry``): the staged hook's command line runs without click, and
reads, prints and exits exactly as the same command line run through click."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.cli import lr_ci_executable
from helpers.git import git
from lr_ci import _entry

FAKE_AWS = "AKIAQYLPMN5HHHFPZAM2"
CLICK_PATH = "import sys\nfrom lr_ci.cli import main\nsys.exit(main(sys.argv[1:]))\n"


def _run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False, timeout=60, env=env)
    # the run's duration is the only thing two runs may print differently
    out, err = (re.sub(r"\d+\.\d+ s\b", "T s", text) for text in (result.stdout, result.stderr))
    out = re.sub(r'"(started_at|duration_s)": [^,\n]+', r'"\1": X', out)
    out = re.sub(r"\b[0-9a-f]{32}\b", "TOKEN", out)  # the random token that pauses Actions commands
    return result.returncode, out, err


def _both(
    cwd: Path, env: dict[str, str] | None = None, argv: tuple[str, ...] = ("secrets", "--staged")
) -> tuple[tuple[int, str, str], ...]:
    """A staged hook's command line through the ``lr-ci`` script (no click), ``python -m lr_ci`` (no
    click) and click."""
    fast = _run([lr_ci_executable(), *argv], cwd, env)
    module = _run([sys.executable, "-m", "lr_ci", *argv], cwd, env)
    click = _run([sys.executable, "-c", CLICK_PATH, *argv], cwd, env)
    return fast, module, click


def _staged(repo: Path, text: str, config: str | None = None) -> None:
    (repo / "app.py").write_text(text)
    if config is not None:
        (repo / "lr-ci.toml").write_text(config)
    git(repo, "add", "-A")


@pytest.mark.parametrize(
    ("text", "config", "code", "printed"),
    [
        ("print('hello')\n", None, 0, "PASS"),
        (f"aws_key = '{FAKE_AWS}'\n", None, 1, "aws-access-key-id"),
        (f"aws_key = '{FAKE_AWS}'\n", '[secrets]\nfail_on = "critical"\n', 0, "aws-access-key-id"),
        ("print('hello')\n", "[secrets]\nfail_on = 7\n", 2, "lr-ci.toml:2"),
        ("print('hello')\n", "[secrets\n", 2, "lr-ci.toml:1"),
    ],
    ids=["clean", "a secret", "fail_on from the config", "a bad setting", "broken TOML"],
)
@pytest.mark.parametrize("argv", sorted(_entry.HOOK_COMMAND_LINES))
def test_the_staged_hook_runs_as_click_runs_it(
    repo: Path, text: str, config: str | None, code: int, printed: str, argv: tuple[str, ...]
) -> None:
    _staged(repo, text, config)
    fast, module, click = _both(repo, argv=argv)
    assert fast == module == click
    assert fast[0] == code
    if "--quiet" in argv and code == 0:
        assert fast[1:] == ("", "")  # quiet: only what fails is printed
    else:
        assert printed in fast[1] + fast[2]
    assert FAKE_AWS not in fast[1] + fast[2]


def test_the_staged_hook_outside_a_repository(tmp_path: Path) -> None:
    fast, module, click = _both(tmp_path)
    assert fast == module == click
    assert fast[0] == 2
    assert fast[2].startswith("lr-ci secrets: error: ") and fast[2].count("\n") == 1


def test_the_staged_hook_in_github_actions(repo: Path) -> None:
    """Inside Actions the default format is ``github`` (annotations), on both paths."""
    _staged(repo, f"aws_key = '{FAKE_AWS}'\n")
    env = {**os.environ, "GITHUB_ACTIONS": "true"}
    fast, module, click = _both(repo, env)
    assert fast == module == click
    assert fast[0] == 1 and "::error " in fast[1]


def _python(program: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, cwd=cwd, check=False, timeout=60
    )


@pytest.mark.parametrize(
    ("argv", "loads_click"),
    [
        (["secrets", "--staged"], False),
        (["secrets", "--staged", "--quiet"], False),
        (["secrets", "--staged", "-q"], True),
        (["--quiet", "secrets", "--staged"], True),
        (["secrets"], True),
    ],
)
def test_only_the_staged_hooks_command_lines_start_without_click(
    repo: Path, argv: list[str], loads_click: bool
) -> None:
    _staged(repo, "print('hello')\n")
    program = (
        "import sys\nfrom lr_ci import _entry\n"
        f"code = _entry.run({argv!r})\n"
        "print('CLICK', 'click' in sys.modules, code)\n"
    )
    assert _python(program, repo).stdout.strip().endswith(f"CLICK {loads_click} 0")


def test_a_reader_that_left_is_exit_141_on_both_paths(repo: Path) -> None:
    _staged(repo, f"aws_key = '{FAKE_AWS}'\n")
    codes = []
    for argv in (
        [lr_ci_executable(), "secrets", "--staged"],
        [sys.executable, "-c", CLICK_PATH, "secrets", "--staged"],
    ):
        read_end, write_end = os.pipe()
        os.close(read_end)  # nobody reads: the first write fails
        try:
            result = subprocess.run(
                argv, cwd=repo, stdout=write_end, stderr=subprocess.PIPE, check=False, timeout=60
            )
        finally:
            os.close(write_end)
        codes.append(result.returncode)
        assert b"Traceback" not in result.stderr
    assert codes == [_entry.SIGPIPE_EXIT, _entry.SIGPIPE_EXIT]


def test_an_interrupt_is_exit_130(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from lr_ci.checks.secrets import check

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(check, "body", interrupted)
    assert _entry.run(["secrets", "--staged"]) == _entry.ABORTED_EXIT
    assert capsys.readouterr().err == "\nlr-ci: aborted\n"  # as click says it: a blank line first


def test_a_report_that_cannot_be_written_is_exit_3_on_both_paths(repo: Path) -> None:
    """stdout on a full disk: the run is over, writing its report fails. Both paths say so in one line."""
    _staged(repo, "print('hello')\n")
    results = []
    for argv in (
        [lr_ci_executable(), "secrets", "--staged"],
        [sys.executable, "-c", CLICK_PATH, "secrets", "--staged"],
    ):
        with open("/dev/full", "w") as full:
            result = subprocess.run(
                argv, cwd=repo, stdout=full, stderr=subprocess.PIPE, text=True, check=False, timeout=60
            )
        results.append((result.returncode, result.stderr))
    assert results[0] == results[1]
    code, stderr = results[0]
    assert code == 3 and stderr.startswith("lr-ci secrets: error: internal error") and stderr.count("\n") == 1


@pytest.mark.parametrize("fd", [1, 2], ids=["stdout closed", "stderr closed"])
def test_a_stream_closed_at_start_ends_as_on_the_click_path(repo: Path, fd: int) -> None:
    """``lr-ci secrets --staged >&-`` (or ``2>&-``): Python starts with that stream None. Both paths end
    with the same code and print no traceback on the stream that is left."""
    _staged(repo, "print('hello')\n")
    results = []
    for argv in (
        [lr_ci_executable(), "secrets", "--staged"],
        [sys.executable, "-c", CLICK_PATH, "secrets", "--staged"],
    ):
        result = subprocess.run(
            argv,
            cwd=repo,
            capture_output=True,
            preexec_fn=lambda: os.close(fd),  # the child starts with this stream closed
            check=False,
            timeout=60,
        )
        assert b"Traceback" not in result.stdout + result.stderr
        results.append(result.returncode)
    assert results[0] == results[1]


@pytest.mark.parametrize(
    ("argv", "code", "printed"),
    [
        (["--version"], 0, "lr-ci, version"),
        (["secrets", "--range", ""], 2, "--range: the range is empty"),
        (["secrets", "--staged"], 0, "PASS"),
    ],
)
def test_the_entry_point_ends_the_process_with_everything_written(
    repo: Path, argv: list[str], code: int, printed: str
) -> None:
    """Run as the process's entry point, lr-ci ends the process without tearing the interpreter down: the
    exit code is the run's, everything printed is there, and the ``atexit`` functions ran."""
    _staged(repo, "print('hello')\n")
    program = (
        "import atexit, sys\nfrom lr_ci._entry import main\n"
        "atexit.register(lambda: print('atexit ran', file=sys.stderr))\n"
        f"sys.argv = ['lr-ci', *{argv!r}]\nmain()\n"
    )
    result = _python(program, repo)
    assert result.returncode == code
    assert printed in result.stdout + result.stderr
    assert result.stderr.rstrip().endswith("atexit ran")


def test_the_entry_point_waits_for_a_thread_still_running(tmp_path: Path) -> None:
    """A thread that is not a daemon, still running when the run ends, is waited for as Python does."""
    program = (
        "import sys, threading, time\nfrom lr_ci._entry import main\n"
        "threading.Thread(target=lambda: (time.sleep(0.3), print('thread done', flush=True))).start()\n"
        "sys.argv = ['lr-ci', '--version']\nmain()\n"
    )
    result = _python(program, tmp_path)
    assert result.returncode == 0
    assert result.stdout.splitlines()[-1] == "thread done"
