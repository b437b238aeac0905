"""The hooks, run by the real pre-commit framework and by git itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers.cli import ROOT
from helpers.git import copy_of_this_checkout, git

pytestmark = pytest.mark.slow

GOOD = "# defaults for every check\n"
BAD = "[nope]\nx = 1\n"
TOKEN = "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"


def snapshot_of_this_checkout(target: Path) -> str:
    """A git repository holding this checkout's files as they are now (committed or not); returns its HEAD."""
    copy_of_this_checkout(target)
    git(target, "init", "-q")
    git(target, "add", "-A")
    git(target, "commit", "-q", "-m", "snapshot")
    return git(target, "rev-parse", "HEAD").strip()


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("lr-ci-snapshot")
    return path, snapshot_of_this_checkout(path)


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


def new_repo(tmp_path: Path, hooks_path: Path | None = None) -> Path:
    repo = tmp_path / "project"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    if hooks_path is not None:
        git(repo, "config", "core.hooksPath", str(hooks_path))
    return repo


def run_in(repo: Path, env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    """A git command as a person runs it: the hooks fire, their output is captured."""
    return subprocess.run(
        list(argv), cwd=repo, env=env, capture_output=True, text=True, check=False, timeout=600
    )


def run_git_commit(
    repo: Path, env: dict[str, str], message: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    return run_in(
        repo,
        env,
        "git",
        "-c",
        "user.name=T",
        "-c",
        "user.email=t@example.com",
        "commit",
        "-q",
        "-m",
        message,
        *extra,
    )


def commit(repo: Path, env: dict[str, str], config_text: str) -> subprocess.CompletedProcess[str]:
    (repo / "lr-ci.toml").write_text(config_text)
    git(repo, "add", "lr-ci.toml")
    return run_git_commit(repo, env, "change config")


def test_hooks_file_is_valid_and_ids_are_prefixed() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    for hook in hooks:
        assert hook["id"].startswith("lr-")
        assert hook["language"] == "python"
        assert hook["entry"].startswith("lr-ci ")
    pre_commit = str(Path(sys.executable).with_name("pre-commit"))
    done = subprocess.run(
        [pre_commit, "validate-manifest", str(ROOT / ".pre-commit-hooks.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_pre_commit_framework_passes_and_blocks(
    tmp_path: Path, hook_repo: tuple[Path, str], pre_commit_home: Path
) -> None:
    source, rev = hook_repo
    repo = new_repo(tmp_path)
    hooks = [{"id": "lr-config"}, {"id": "lr-secrets"}, {"id": "lr-secrets-history"}]
    config = {"repos": [{"repo": str(source), "rev": rev, "hooks": hooks}]}
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))
    git(repo, "add", ".pre-commit-config.yaml")
    env = {**os.environ, "PRE_COMMIT_HOME": str(pre_commit_home)}
    pre_commit = str(Path(sys.executable).with_name("pre-commit"))
    for hook_type in ("pre-commit", "pre-push"):
        subprocess.run(
            [pre_commit, "install", "--hook-type", hook_type],
            cwd=repo,
            env=env,
            check=True,
            capture_output=True,
        )

    passed = commit(repo, env, GOOD)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "lr-ci config check" in passed.stdout + passed.stderr

    blocked = commit(repo, env, BAD)
    assert blocked.returncode != 0
    output = blocked.stdout + blocked.stderr
    assert "lr-ci.toml:1" in output and "nope: unknown table" in output
    assert git(repo, "log", "--format=%s").splitlines() == ["change config"]

    (repo / "lr-ci.toml").write_text(GOOD)
    git(repo, "add", "lr-ci.toml")
    (repo / "deploy.env").write_text(f"GITHUB_TOKEN={TOKEN}\n")
    git(repo, "add", "deploy.env")
    secret = run_git_commit(repo, env, "add deploy env")
    assert secret.returncode != 0
    assert "github-token" in secret.stdout + secret.stderr and TOKEN not in secret.stdout + secret.stderr

    # Committed anyway (--no-verify): the pre-push hook scans the history and blocks the push.
    assert run_git_commit(repo, env, "add deploy env", "--no-verify").returncode == 0
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    pushed = run_in(repo, env, "git", "push", "-q", "origin", "HEAD:main")
    assert pushed.returncode != 0
    assert "github-token" in pushed.stdout + pushed.stderr


def plain_hook_env() -> dict[str, str]:
    """lr-ci on PATH, as after `pip install lr-ci`."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def test_plain_pre_commit_hook(tmp_path: Path) -> None:
    repo = new_repo(tmp_path, ROOT / "hooks")
    env = plain_hook_env()
    assert commit(repo, env, GOOD).returncode == 0
    blocked = commit(repo, env, BAD)
    assert blocked.returncode != 0
    assert "lr-ci.toml:1" in blocked.stdout + blocked.stderr
    commit(repo, env, GOOD)
    (repo / "deploy.env").write_text(f"GITHUB_TOKEN={TOKEN}\n")
    git(repo, "add", "deploy.env")
    secret = run_git_commit(repo, env, "add deploy env")
    assert secret.returncode != 0 and "deploy.env:1" in secret.stdout + secret.stderr


def test_plain_pre_commit_hook_without_lr_ci_says_so(tmp_path: Path) -> None:
    repo = new_repo(tmp_path, ROOT / "hooks")
    env = {**os.environ, "PATH": "/usr/bin:/bin"}
    blocked = commit(repo, env, GOOD)
    assert blocked.returncode != 0
    assert "lr-ci is not installed" in blocked.stderr


def test_plain_pre_push_hook(tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    repo = new_repo(tmp_path)
    git(repo, "remote", "add", "origin", str(remote))
    (repo / "lr-ci.toml").write_text(BAD)
    git(repo, "add", "lr-ci.toml")
    git(repo, "commit", "-q", "-m", "bad config")  # no pre-commit hook yet
    git(repo, "config", "core.hooksPath", str(ROOT / "hooks"))
    env = plain_hook_env()

    def push() -> subprocess.CompletedProcess[str]:
        return run_in(repo, env, "git", "push", "-q", "origin", "main")

    blocked = push()
    assert blocked.returncode != 0
    assert "nope: unknown table" in blocked.stdout + blocked.stderr
    assert commit(repo, env, GOOD).returncode == 0
    pushed = push()
    assert pushed.returncode == 0, pushed.stderr

    # A secret committed past the pre-commit hook is caught on the way out, in the pushed commits only.
    (repo / "deploy.env").write_text(f"GITHUB_TOKEN={TOKEN}\n")
    git(repo, "add", "deploy.env")
    assert run_git_commit(repo, env, "secret", "--no-verify").returncode == 0
    blocked = push()
    assert blocked.returncode != 0 and "github-token" in blocked.stdout + blocked.stderr
