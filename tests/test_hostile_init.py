"""Issue 11, round 3, against ``lr-ci init`` on a hostile repository (a cloned one is anyone's).

Manifests that never end, block or nest too deep must not hang, fill memory or crash detection; links
placed where init writes must not make it write anywhere else. Each input runs lr-ci in a bounded
subprocess (tests/helpers/hostile.py).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from helpers.hostile import PEAK_RSS_LIMIT, Measured, all_format_outputs, assert_one_clear_line, run_measured


@pytest.fixture
def repo_dir(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    return path


def init(repo_dir: Path, tmp_path: Path, *args: str) -> Measured:
    return run_measured(
        ["init", "--format", "json", *args],
        cwd=repo_dir,
        env={"NO_COLOR": "1"},
        timeout_s=20,
        outputs=all_format_outputs(tmp_path),
    )


@pytest.mark.parametrize("kind", ["/dev/zero", "FIFO", "huge", "deep"])
def test_a_hostile_package_json_is_left_unread_with_a_note(repo_dir: Path, tmp_path: Path, kind: str) -> None:
    manifest = repo_dir / "package.json"
    if kind == "/dev/zero":
        manifest.symlink_to("/dev/zero")
    elif kind == "FIFO":
        os.mkfifo(manifest)
    elif kind == "huge":
        with manifest.open("wb") as handle:
            handle.truncate(64 << 20)  # sparse: 64 MB of NUL bytes, written in no time
    else:
        manifest.write_text("[" * 200_000 + "]" * 200_000)
    result = init(repo_dir, tmp_path)
    assert result.code == 0, result.err
    assert "internal error" not in result.err
    assert result.peak_rss <= PEAK_RSS_LIMIT
    report = json.loads(result.out)
    notes = [f for f in report["findings"] if f["rule"] == "init-unread"]
    assert len(notes) == 1 and notes[0]["location"]["path"] == "package.json"
    assert (repo_dir / "lr-ci.toml").is_file()


def test_a_linked_lr_ci_toml_is_not_written_through(repo_dir: Path, tmp_path: Path) -> None:
    """``lr-ci.toml -> ../victim`` (dangling): init would have created the victim file."""
    victim = tmp_path / "victim"
    (repo_dir / "lr-ci.toml").symlink_to(victim)
    for args in ((), ("--force",)):
        result = init(repo_dir, tmp_path, *args)
        assert result.code == 2
        assert_one_clear_line(result, mentions=["lr-ci.toml", "symbolic link"])
        assert not victim.exists()
    victim.write_text("precious\n")
    init(repo_dir, tmp_path, "--force")
    assert victim.read_text() == "precious\n"


def test_a_github_folder_linking_outside_is_not_written_into(repo_dir: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (repo_dir / ".github").symlink_to(elsewhere, target_is_directory=True)
    result = init(repo_dir, tmp_path, "--workflows")
    assert result.code == 2
    assert_one_clear_line(result, mentions=["lr-ci.yml", "outside the repository"])
    assert list(elsewhere.iterdir()) == []
    assert not (repo_dir / "lr-ci.toml").exists()  # checked before anything is written


def test_a_hostile_source_tree_does_not_hang_or_mislead_the_health_route_search(
    repo_dir: Path, tmp_path: Path
) -> None:
    """Looking for a health route reads source files: a FIFO, ``/dev/zero``, a folder linking to ``/`` or
    back to itself, a route in a linked file, and a deep tree of folders are skipped or bounded."""
    os.mkfifo(repo_dir / "server.py")
    (repo_dir / "main.py").symlink_to("/dev/zero")
    (repo_dir / "everything").symlink_to("/", target_is_directory=True)
    (repo_dir / "loop").symlink_to(repo_dir, target_is_directory=True)
    outside = tmp_path / "outside.py"
    outside.write_text('app.get("/healthz")\n')
    (repo_dir / "routes.py").symlink_to(outside)
    deep = repo_dir
    for _ in range(40):
        deep = deep / "d"
    deep.mkdir(parents=True)
    (deep / "app.py").write_text('app.get("/healthz")\n')  # past the depth bound: not read
    result = init(repo_dir, tmp_path)
    assert result.code == 0, result.err
    assert result.peak_rss <= PEAK_RSS_LIMIT
    report = json.loads(result.out)
    assert report["metrics"]["detected"]["health"] is None
    unread = [f for f in report["findings"] if f["rule"] == "init-unread"]
    assert unread == []  # a source file left unread is skipped quietly: it is not a manifest
    assert '\nname = "health"' not in (repo_dir / "lr-ci.toml").read_text()
