"""History findings name the commit that first introduced a secret (issue 17), in real git repositories.

The commit named is the one whose own diff (against its first parent, or as a root) added the line; when
several commits added the same secret to the same file it is the first in the scan's order
(:data:`lr_ci.checks.secrets.git.SCAN_ORDER`: an ancestor before its descendants, parallel branches by
author date). A merge is named only when the merge itself wrote the line (a conflict resolution), and a
rename moves a secret without introducing it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from helpers.cli import Cli
from helpers.git import git
from lr_ci.checks.secrets.git import Commit
from lr_ci.checks.secrets.scan import ContentScanner, Occurrence
from lr_ci.secret_rules.engine import Hit, default_rules

GH = "ghp_u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8d"
AWS = "AKIAZ7Q3WX5KD2LMNB4R"
PASSWORD = "Xk9mP2vLq7Rt"


def git_on(repo: Path, day: int, who: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``git ARGS`` as ``who``, authored and committed on 2024-01-``day`` (not checked: a merge may conflict)."""
    stamp = f"2024-01-{day:02d}T12:00:00+00:00"
    return subprocess.run(
        ["git", "-c", f"user.name={who}", "-c", f"user.email={who.lower()}@example.com", *args],
        cwd=repo,
        env={**os.environ, "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp},
        check=False,
        capture_output=True,
        text=True,
    )


def commit(repo: Path, files: dict[str, str], day: int, message: str, who: str = "Test") -> str:
    """Write ``files`` (an empty text deletes), commit them authored and committed on 2024-01-``day``."""
    for name, text in files.items():
        path = repo / name
        if text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            git(repo, "add", "--", name)
        else:
            git(repo, "rm", "-q", "--", name)
    done = git_on(repo, day, who, "commit", "-q", "-m", message)
    assert done.returncode == 0, done.stderr
    return git(repo, "rev-parse", "HEAD").strip()


def merge(repo: Path, branch: str, day: int) -> subprocess.CompletedProcess[str]:
    return git_on(repo, day, "Merger", "merge", "-q", "--no-ff", "--no-edit", branch)


def history(cli: Cli, *args: str) -> list[dict[str, Any]]:
    result = cli("secrets", "--format", "json", *(args or ("--history",)))
    assert result.code in (0, 1), result.err
    findings: list[dict[str, Any]] = result.json()["findings"]
    return findings


def named(findings: list[dict[str, Any]]) -> list[tuple[str, str, str | None]]:
    return sorted((f["rule"], f["location"]["path"], f["location"]["commit"]) for f in findings)


def test_a_secret_merged_from_a_branch_names_the_branch_commit(repo: Path, cli: Cli) -> None:
    commit(repo, {"app.cfg": "debug = false\nport = 80\n"}, 1, "base")
    git(repo, "checkout", "-q", "-b", "feature")
    added = commit(repo, {"app.cfg": f"debug = false\nport = 80\ntoken = {GH}\n"}, 2, "feature", "Dana")
    git(repo, "checkout", "-q", "main")
    commit(repo, {"app.cfg": "debug = true\nport = 80\n", "main.txt": "x\n"}, 3, "main edits the file too")
    assert merge(repo, "feature", 4).returncode == 0
    (finding,) = history(cli)
    assert finding["location"]["commit"] == added
    assert finding["location"]["line"] == 3
    assert finding["data"]["author"] == "Dana <dana@example.com>"
    assert finding["data"]["date"] == "2024-01-02T12:00:00+00:00"


def test_a_secret_added_on_two_parallel_branches_names_the_older(repo: Path, cli: Cli) -> None:
    """``--topo-order`` lists the branch with the newest tip last: it named the newer addition here."""
    commit(repo, {"a.txt": "a\n"}, 1, "base")
    git(repo, "checkout", "-q", "-b", "older")
    first = commit(repo, {"s.env": f"TOKEN={GH}\n"}, 2, "older branch adds it", "Olga")
    commit(repo, {"later.txt": "later\n"}, 20, "older branch's newest commit")
    git(repo, "checkout", "-q", "main")
    git(repo, "checkout", "-q", "-b", "newer")
    commit(repo, {"s.env": f"TOKEN={GH}\n"}, 5, "newer branch adds it", "Nick")
    git(repo, "checkout", "-q", "main")
    (finding,) = history(cli)
    assert finding["location"]["commit"] == first
    assert finding["data"]["author"] == "Olga <olga@example.com>"
    # Merged together, the merge takes the same line from both sides: still the older branch commit.
    git(repo, "checkout", "-q", "newer")
    assert merge(repo, "older", 21).returncode == 0
    assert [f["location"]["commit"] for f in history(cli)] == [first]


def test_parallel_branches_are_ordered_by_date_not_by_name(repo: Path, cli: Cli) -> None:
    commit(repo, {"a.txt": "a\n"}, 1, "base")
    for branch, day in (("aaa", 9), ("zzz", 3), ("mmm", 6)):
        git(repo, "checkout", "-q", "-b", branch, "main")
        commit(repo, {"s.env": f"KEY={AWS}\n"}, day, f"{branch} adds it")
    oldest = git(repo, "rev-parse", "zzz").strip()
    assert [f["location"]["commit"] for f in history(cli)] == [oldest]


def test_added_removed_and_added_again_names_the_first(repo: Path, cli: Cli) -> None:
    commit(repo, {"README.md": "hi\n"}, 1, "base")
    first = commit(repo, {"deploy.env": f"TOKEN={GH}\n"}, 2, "add")
    commit(repo, {"deploy.env": "TOKEN=\n"}, 3, "remove")
    commit(repo, {"deploy.env": f"TOKEN={GH}\n"}, 4, "add again")
    commit(repo, {"deploy.env": ""}, 5, "delete the file")
    commit(repo, {"deploy.env": f"# restored\nTOKEN={GH}\n"}, 6, "restore it")
    (finding,) = history(cli)
    assert finding["location"]["commit"] == first
    assert finding["location"]["line"] == 1


def test_a_renamed_file_does_not_introduce_its_secret(repo: Path, cli: Cli) -> None:
    first = commit(repo, {"old/settings.env": f"TOKEN={GH}\nDEBUG=1\n"}, 1, "add")
    (repo / "config").mkdir()
    git(repo, "mv", "old/settings.env", "config/settings.env")
    commit(repo, {}, 2, "rename")
    git(repo, "mv", "config/settings.env", "config/app.env")
    (repo / "config/app.env").write_text(f"# edited while moved\nTOKEN={GH}\nDEBUG=0\n")
    git(repo, "add", "config/app.env")
    commit(repo, {}, 3, "rename and edit")
    assert named(history(cli)) == [("github-token", "old/settings.env", first)]


def test_a_secret_copied_into_a_new_file_is_a_new_finding(repo: Path, cli: Cli) -> None:
    """Only a file the same commit deletes counts as the origin of a move: a copy is a new place."""
    first = commit(repo, {"a.env": f"TOKEN={GH}\n"}, 1, "add")
    copied = commit(repo, {"b.env": f"TOKEN={GH}\n"}, 2, "copy")
    assert named(history(cli)) == [("github-token", "a.env", first), ("github-token", "b.env", copied)]


def test_a_rename_in_a_range_that_starts_after_the_secret_still_reports_it(repo: Path, cli: Cli) -> None:
    """The range does not hold the first addition, so its rename is where the secret enters the range."""
    commit(repo, {"a.env": f"TOKEN={GH}\n"}, 1, "add")
    base = commit(repo, {"x.txt": "x\n"}, 2, "other")
    git(repo, "mv", "a.env", "b.env")
    renamed = commit(repo, {}, 3, "rename")
    assert named(history(cli, "--range", f"{base}..HEAD")) == [("github-token", "b.env", renamed)]


def test_a_secret_written_in_a_conflict_resolution_names_the_merge(repo: Path, cli: Cli) -> None:
    commit(repo, {"app.cfg": "value = 1\n"}, 1, "base")
    git(repo, "checkout", "-q", "-b", "feature")
    commit(repo, {"app.cfg": "value = 2\n"}, 2, "feature side")
    git(repo, "checkout", "-q", "main")
    commit(repo, {"app.cfg": "value = 3\n"}, 3, "main side")
    assert merge(repo, "feature", 4).returncode != 0  # conflicts
    (repo / "app.cfg").write_text(f"value = 4\nDB_PASSWORD={PASSWORD}\n")
    git(repo, "add", "app.cfg")
    assert git_on(repo, 4, "Merger", "commit", "-q", "--no-edit").returncode == 0
    resolution = git(repo, "rev-parse", "HEAD").strip()
    (finding,) = history(cli)
    assert (finding["rule"], finding["location"]["commit"]) == ("generic-password", resolution)
    assert finding["data"]["author"] == "Merger <merger@example.com>"


def test_a_merge_that_takes_a_branch_line_moved_elsewhere_names_the_branch(repo: Path, cli: Cli) -> None:
    """Both sides edit the file around the secret: the merge's combined diff holds the line from one
    parent, so the merge is not credited even where its diff against the first parent shows it."""
    commit(repo, {"app.cfg": "a = 1\nb = 2\nc = 3\n"}, 1, "base")
    git(repo, "checkout", "-q", "-b", "feature")
    added = commit(repo, {"app.cfg": f"a = 1\nb = 2\nkey = {AWS}\nc = 3\n"}, 2, "feature adds")
    git(repo, "checkout", "-q", "main")
    commit(repo, {"app.cfg": "a = 10\nb = 2\nc = 3\n"}, 3, "main edits")
    assert merge(repo, "feature", 4).returncode == 0
    assert [f["location"]["commit"] for f in history(cli)] == [added]


@pytest.fixture
def shallow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, list[str]]:
    origin = tmp_path / "origin"
    origin.mkdir()
    git(origin, "init", "-q", "-b", "main")
    shas = [commit(origin, {"old.env": f"TOKEN={GH}\n"}, 1, "secret long ago")]
    shas += [commit(origin, {f"f{i}.txt": f"{i}\n"}, 2 + i, "filler") for i in range(3)]
    shas.append(commit(origin, {"new.env": f"KEY={AWS}\n"}, 9, "a new secret"))
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "2", f"file://{origin}", str(clone))
    monkeypatch.chdir(clone)
    return clone, shas


def test_a_shallow_clone_keeps_refusing_history_and_names_commits_in_range(
    shallow: tuple[Path, list[str]], cli: Cli
) -> None:
    _, shas = shallow
    refused = cli("secrets", "--history")
    assert refused.code == 2 and "shallow" in refused.err and "--deepen" in refused.err
    assert named(history(cli, "--range", f"{shas[-2]}..{shas[-1]}")) == [
        ("aws-access-key-id", "new.env", shas[-1])
    ]
    deepened = history(cli, "--history", "--deepen")
    assert named(deepened) == [
        ("aws-access-key-id", "new.env", shas[-1]),
        ("github-token", "old.env", shas[0]),
    ]


# -- ContentScanner.occurrences, called directly ------------------------------------------------------------


def _occurrence(scanner: ContentScanner, path: str, sha: str, position: int, secret: str = GH) -> None:
    rule = next(rule for rule in default_rules().rules if rule.id == "github-token")
    scanner.take([Hit(rule, secret, 1, 7)], path, Commit(sha, (), "2024-01-01T00:00:00+00:00"), position)


def _where(occurrences: list[Occurrence]) -> list[tuple[str, str | None]]:
    return [(o.path, o.commit.sha if o.commit else None) for o in occurrences]


def test_occurrences_leave_out_a_secret_moved_with_its_file() -> None:
    scanner = ContentScanner(default_rules(), 1 << 20, lambda _path: False)
    _occurrence(scanner, "b.env", "c2", 2)  # the rename's part of the history arrived first
    _occurrence(scanner, "a.env", "c1", 1)
    _occurrence(scanner, "c.env", "c3", 3)  # renamed again
    _occurrence(scanner, "copy.env", "c4", 4)  # a copy: c4 deletes nothing
    deleted: dict[str | None, set[str]] = {"c2": {"a.env"}, "c3": {"b.env"}}
    assert _where(scanner.occurrences()) == [
        ("a.env", "c1"),
        ("b.env", "c2"),
        ("c.env", "c3"),
        ("copy.env", "c4"),
    ]
    assert _where(scanner.occurrences(deleted)) == [("a.env", "c1"), ("copy.env", "c4")]


def test_occurrences_keep_a_secret_whose_deleted_file_held_it_only_later() -> None:
    """The deleted file's secret came after the add (a parallel branch): the add is not a move."""
    scanner = ContentScanner(default_rules(), 1 << 20, lambda _path: False)
    _occurrence(scanner, "b.env", "c2", 2)
    _occurrence(scanner, "a.env", "c5", 5)
    _occurrence(scanner, "b.env", "c9", 9, secret=GH[:-1] + "x")
    deleted: dict[str | None, set[str]] = {"c2": {"a.env"}, "c9": {"a.env"}}
    assert _where(scanner.occurrences(deleted)) == [
        ("b.env", "c2"),
        ("a.env", "c5"),
        ("b.env", "c9"),
    ]
