"""Issue 11, round 3, against the shared output layer and the CLI: hostile strings in every format.

A path, a config key or an option value can hold control characters, a newline followed by a GitHub
workflow command, markdown that would become a link or an image, or a megabyte of text. Each input runs
lr-ci in a bounded subprocess (tests/helpers/hostile.py) and asserts the exit code, one clear line, and that no
format lets the string act as anything but text.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from helpers.hostile import all_format_outputs, assert_one_clear_line, run_measured
from lr_ci._run import MAX_ERROR_CHARS

TOKEN = "ghp_" + "Zq8Rt2Lm5Vx7Bn4Kc9Pw1Hd6Jf3Gs02TwKdN"
ESCAPE = "\x1b]0;owned\x07\x1b[2J"
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    (path / "dist").mkdir(parents=True)
    return path


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"XDG_CACHE_HOME": str(tmp_path / "cache"), "NO_COLOR": "1", **extra}


def test_control_characters_in_an_argument_are_escaped_in_the_error_line(
    project: Path, tmp_path: Path
) -> None:
    result = run_measured(["bundle", f"d{ESCAPE}\n::error::x"], cwd=project, env=env_for(tmp_path))
    assert result.code == 2
    line = assert_one_clear_line(result, mentions=["no such build folder", "\\x1b]0;owned\\x07"])
    assert not CONTROL.search(result.err)
    assert not any(text.startswith("::") for text in result.err.splitlines())
    assert line.startswith("lr-ci bundle: error: ")


def test_control_characters_in_a_config_key_are_escaped(project: Path, tmp_path: Path) -> None:
    (project / "lr-ci.toml").write_text('[bundle]\n"a\\u001b[2Jb\\n::warning::x" = 1\n')
    result = run_measured(["bundle", "--format", "json"], cwd=project, env=env_for(tmp_path))
    assert result.code == 2
    assert_one_clear_line(result, mentions=["lr-ci.toml:2", "unknown key", "\\x1b[2Jb"])
    assert not CONTROL.search(result.err)
    assert "\x1b" not in json.loads(result.out)["error"]


def test_a_megabyte_config_key_is_one_short_line(project: Path, tmp_path: Path) -> None:
    (project / "lr-ci.toml").write_text('[bundle]\n"' + "k" * 900_000 + '" = 1\n')
    result = run_measured(
        ["bundle", "--format", "json"],
        cwd=project,
        env=env_for(tmp_path),
        outputs=all_format_outputs(tmp_path),
    )
    assert result.code == 2
    line = assert_one_clear_line(result, mentions=["lr-ci.toml:2", "chars)", "unknown key"])
    assert len(line) < MAX_ERROR_CHARS + 100
    assert all(len(text) < 20_000 for text in [result.out, *result.files.values()])
    checked = run_measured(["config", "check", "--format", "json"], cwd=project, env=env_for(tmp_path))
    assert checked.code == 1
    assert len(json.loads(checked.out)["findings"][0]["message"]) < 300


def test_a_credential_is_redacted_before_a_long_error_is_cut(project: Path, tmp_path: Path) -> None:
    """A cut made before redaction could leave part of the credential that no longer matches it."""
    credential = "Cr3d-" + "Zq8Rt2Lm5Vx7Bn4Kc9Pw" * 3
    padding = "p" * (MAX_ERROR_CHARS - 60)
    (project / "lr-ci.toml").write_text(f'[bundle]\nhash_pattern = "{padding}${{CRED}}("\n')
    result = run_measured(
        ["bundle", "--format", "json"],
        cwd=project,
        env=env_for(tmp_path, CRED=credential),
        outputs=all_format_outputs(tmp_path),
    )
    assert result.code == 2
    assert_one_clear_line(result, mentions=["lr-ci.toml:2", "bundle.hash_pattern"])
    for part in (credential, credential[:12], credential[-12:]):
        assert part not in result.everything


def test_an_output_fifo_that_nobody_reads_does_not_hang(project: Path, tmp_path: Path) -> None:
    (project / "dist" / "app.js").write_text("let a = 1;\n")
    fifo = tmp_path / "report.json"
    os.mkfifo(fifo)
    result = run_measured(
        ["bundle", f"--output=json:{fifo}"], cwd=project, env=env_for(tmp_path), timeout_s=20
    )
    assert result.code == 2
    assert_one_clear_line(result, mentions=["--output", "FIFO"])


def test_an_output_path_that_is_a_directory(project: Path, tmp_path: Path) -> None:
    (project / "dist" / "app.js").write_text("let a = 1;\n")
    result = run_measured(["bundle", f"--output=sarif:{tmp_path}"], cwd=project, env=env_for(tmp_path))
    assert result.code == 2
    assert_one_clear_line(result, mentions=["--output", "Is a directory"])


def test_markdown_and_html_in_a_file_name_stay_text(project: Path, tmp_path: Path) -> None:
    """A built file named like a markdown image would load a tracking pixel for every reader of the PR
    comment; a link would point reviewers anywhere. Every format shows the name as text."""
    name = "[click](https:x.example)![i](https:t.example?p.png)<img src=x>&amp;*b*_i_~s~`c`.js"
    (project / "dist" / name).write_text(f'const t="{TOKEN}";\n')
    summary = tmp_path / "summary.md"
    result = run_measured(
        ["bundle", "--format", "github"],
        cwd=project,
        env=env_for(tmp_path, GITHUB_STEP_SUMMARY=str(summary)),
        outputs=all_format_outputs(tmp_path),
    )
    assert result.code == 1, result.err
    for markdown in (result.files["markdown"], summary.read_text(encoding="utf-8")):
        row = next(line for line in markdown.splitlines() if "click" in line)
        assert "](" not in row
        assert "<img" not in row and "&amp;amp;" in row
        assert "[click]&#40;" in row and "![i]&#40;" in row
    assert TOKEN not in result.everything
    junit = result.files["junit"]
    assert "<img" not in junit


def test_a_newline_and_workflow_command_in_a_message_stay_in_one_line(project: Path, tmp_path: Path) -> None:
    """Text output and the plain part of the GitHub log show each finding on one line: a file name with
    a newline cannot add a line of its own (not even inside ::stop-commands::)."""
    name = "a\n::error file=x::forged\r\x1b[31m.js"
    (project / "dist" / name).write_text(f'const t="{TOKEN}";\n')
    for fmt in ("text", "github"):
        result = run_measured(["bundle", "--format", fmt], cwd=project, env=env_for(tmp_path))
        assert result.code == 1, result.err
        assert not any(line.startswith("::error file=x") for line in result.out.splitlines())
        assert not CONTROL.search(result.out.replace("\n", ""))
        assert TOKEN not in result.out


@pytest.mark.parametrize("dangling", [False, True], ids=["to a file", "dangling"])
def test_an_output_path_that_is_a_link_is_not_written_through(
    project: Path, tmp_path: Path, dangling: bool
) -> None:
    """A checked-out repository holding ``report.sarif -> ~/.bashrc`` must not pick what a report
    overwrites; ``/dev/stdout`` (a link by nature) still works."""
    (project / "dist" / "app.js").write_text("let a = 1;\n")
    victim = tmp_path / "victim"
    if not dangling:
        victim.write_text("precious\n")
    (project / "report.sarif").symlink_to(victim)
    result = run_measured(["bundle", "--output=sarif:report.sarif"], cwd=project, env=env_for(tmp_path))
    assert result.code == 2
    assert_one_clear_line(result, mentions=["--output report.sarif", "symbolic link"])
    assert (victim.read_text() == "precious\n") if not dangling else not victim.exists()
    streamed = run_measured(
        ["bundle", "--format", "sarif", "--output=json:/dev/stdout"], cwd=project, env=env_for(tmp_path)
    )
    assert streamed.code == 0, streamed.err
    assert '"schema": "lr-ci.report/1"' in streamed.out
