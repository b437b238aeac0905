"""lr-ci secrets against real git repositories: every mode, every failure mode, suppression and redaction."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from helpers.cli import Cli, Result, lr_ci_executable
from helpers.git import git

GH = "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"
GH2 = "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"
AWS = "AKIAZ7Q3WX5KD2LMNB4R"
PASSWORD = "Xk9mP2vLq7Rt"
STRIPE_TEST = "sk_test_51Hq9xfogoEmvnEN5N1aE6PwZPf1Qh6yYTWm"


def commit_file(repo: Path, name: str, text: str, message: str = "change") -> str:
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    git(repo, "add", "--", name)
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def scan(cli: Cli, *args: str) -> tuple[Result, Any]:
    result = cli("secrets", "--format", "json", *args)
    assert result.code in (0, 1), result.err
    return result, result.json()


def rules_at(report: dict[str, Any]) -> list[tuple[str, str, int | None]]:
    return sorted((f["rule"], f["location"]["path"], f["location"]["line"]) for f in report["findings"])


# -- working tree and paths -----------------------------------------------------------------------------


def test_working_tree_scans_tracked_and_untracked_but_not_ignored(repo: Path, cli: Cli) -> None:
    commit_file(repo, "app/settings.py", f'GITHUB_TOKEN = "{GH}"\n')
    (repo / "notes.txt").write_text(f"aws key {AWS}\n")
    (repo / ".gitignore").write_text("local.env\n")
    (repo / "local.env").write_text(f"DB_PASSWORD={PASSWORD}\n")
    result, report = scan(cli)
    assert result.code == 1
    assert rules_at(report) == [
        ("aws-access-key-id", "notes.txt", 1),
        ("github-token", "app/settings.py", 1),
    ]
    assert report["metrics"]["mode"] == "working-tree"
    assert report["metrics"]["files_scanned"] == 3


def test_clean_tree_passes(repo: Path, cli: Cli) -> None:
    commit_file(repo, "app.py", "import os\nTOKEN = os.environ['GITHUB_TOKEN']\n")
    result, report = scan(cli)
    assert result.code == 0 and report["findings"] == []


def test_paths_outside_git(tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dist" / "assets").mkdir(parents=True)
    (tmp_path / "dist" / "assets" / "index-BxQ2_9kd.js").write_text(f'const k="{GH}";\n')
    (tmp_path / "other.txt").write_text(f"{AWS}\n")
    _, report = scan(cli, "dist")
    assert rules_at(report) == [("github-token", "dist/assets/index-BxQ2_9kd.js", 1)]
    _, report = scan(cli, "dist/assets/index-BxQ2_9kd.js", "other.txt")
    assert len(report["findings"]) == 2


def test_missing_path_is_exit_2(repo: Path, cli: Cli) -> None:
    result = cli("secrets", "nope/")
    assert result.code == 2
    assert result.err.strip() == "lr-ci secrets: error: nope: no such file or directory"


def test_working_tree_outside_git_scans_the_directory(
    tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.env").write_text(f"TOKEN={GH}\n")
    _, report = scan(cli)
    assert rules_at(report) == [("github-token", "a.env", 1)]


def test_staged_outside_git_is_exit_2(tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli("secrets", "--staged")
    assert result.code == 2 and "not a git repository" in result.err


def test_modes_are_exclusive(repo: Path, cli: Cli) -> None:
    result = cli("secrets", "--staged", "--history")
    assert result.code == 2 and "choose one of" in result.err


# -- staged ---------------------------------------------------------------------------------------------


def test_staged_scans_the_index_not_the_working_file(repo: Path, cli: Cli) -> None:
    commit_file(repo, "README.md", "hello\n")
    (repo / "config.env").write_text(f"TOKEN={GH}\n")
    git(repo, "add", "config.env")
    (repo / "config.env").write_text("TOKEN=${TOKEN}\n")  # fixed in the working tree, not staged
    (repo / "later.env").write_text(f"AWS={AWS}\n")  # not staged at all
    result, report = scan(cli, "--staged")
    assert result.code == 1
    assert rules_at(report) == [("github-token", "config.env", 1)]


def test_staged_reports_only_what_the_commit_introduces(repo: Path, cli: Cli) -> None:
    commit_file(repo, "config.env", f"TOKEN={GH}\n")  # already committed (and, say, baselined)
    (repo / "config.env").write_text(f"TOKEN={GH}\nOTHER=1\nAWS={AWS}\n")
    git(repo, "add", "config.env")
    _, report = scan(cli, "--staged")
    assert rules_at(report) == [("aws-access-key-id", "config.env", 3)]


def test_staged_in_an_empty_repository(repo: Path, cli: Cli) -> None:
    (repo / "first.env").write_text(f"TOKEN={GH}\n")
    git(repo, "add", "first.env")
    _, report = scan(cli, "--staged")
    assert rules_at(report) == [("github-token", "first.env", 1)]


def test_nothing_staged_passes(repo: Path, cli: Cli) -> None:
    commit_file(repo, "a.txt", "a\n")
    result, report = scan(cli, "--staged")
    assert result.code == 0 and report["findings"] == []


# -- range and history ----------------------------------------------------------------------------------


def test_range_finds_what_the_pr_introduces(repo: Path, cli: Cli) -> None:
    base = commit_file(repo, "config.env", f"OLD={GH}\n", "old secret, already on main")
    git(repo, "checkout", "-q", "-b", "feature")
    commit_file(repo, "config.env", f"OLD={GH}\nNEW={AWS}\n", "add aws")
    head = commit_file(repo, "docs.md", "docs\n", "docs")
    _, report = scan(cli, "--range", f"{base}..{head}")
    assert rules_at(report) == [("aws-access-key-id", "config.env", 2)]
    assert report["metrics"]["commits_scanned"] == 2


def test_range_includes_content_first_seen_in_a_merge_resolution(repo: Path, cli: Cli) -> None:
    base = commit_file(repo, "app.cfg", "value = 1\n")
    git(repo, "checkout", "-q", "-b", "feature")
    commit_file(repo, "app.cfg", "value = 2\n", "feature side")
    git(repo, "checkout", "-q", "main")
    commit_file(repo, "app.cfg", "value = 3\n", "main side")
    subprocess.run(["git", "merge", "-q", "feature"], cwd=repo, capture_output=True, check=False)  # conflicts
    (repo / "app.cfg").write_text(f"value = 4\nDB_PASSWORD={PASSWORD}\n")
    git(repo, "add", "app.cfg")
    git(repo, "commit", "-q", "--no-edit")
    merge = git(repo, "rev-parse", "HEAD").strip()
    _, report = scan(cli, "--range", f"{base}..{merge}")
    assert rules_at(report) == [("generic-password", "app.cfg", 2)]
    assert report["findings"][0]["location"]["commit"] == merge


def test_merge_taking_one_side_does_not_blame_the_merge(repo: Path, cli: Cli) -> None:
    commit_file(repo, "base.txt", "base\n")
    git(repo, "checkout", "-q", "-b", "feature")
    side = commit_file(repo, "feature.env", f"TOKEN={GH}\n", "feature adds a token")
    git(repo, "checkout", "-q", "main")
    commit_file(repo, "main.txt", "main\n")
    git(repo, "merge", "-q", "--no-edit", "feature")
    _, report = scan(cli, "--history")
    assert [f["location"]["commit"] for f in report["findings"]] == [side]


def test_history_names_the_commit_author_and_date_even_when_deleted(repo: Path, cli: Cli) -> None:
    commit_file(repo, "README.md", "hi\n")
    introduced = commit_file(repo, "deploy/.env", f"GITHUB_TOKEN={GH}\n", "add deploy env")
    git(repo, "rm", "-q", "deploy/.env")
    git(repo, "commit", "-q", "-m", "remove the env file")
    result, report = scan(cli, "--history")
    assert result.code == 1
    (finding,) = report["findings"]
    assert finding["rule"] == "github-token"
    assert finding["location"]["commit"] == introduced
    assert finding["data"]["author"] == "Test <test@example.com>"
    assert finding["data"]["date"][:4].isdigit()
    assert cli("secrets").code == 0  # the working tree is clean now


def test_history_covers_every_ref(repo: Path, cli: Cli) -> None:
    commit_file(repo, "a.txt", "a\n")
    git(repo, "checkout", "-q", "-b", "experiment")
    commit_file(repo, "exp.env", f"KEY={AWS}\n")
    git(repo, "checkout", "-q", "main")
    git(repo, "tag", "v1")
    _, report = scan(cli, "--history")
    assert rules_at(report) == [("aws-access-key-id", "exp.env", 1)]


def test_history_of_an_empty_repository_passes(repo: Path, cli: Cli) -> None:
    result, report = scan(cli, "--history")
    assert result.code == 0 and report["metrics"]["commits_scanned"] == 0


def test_detached_head(repo: Path, cli: Cli) -> None:
    first = commit_file(repo, "a.txt", "a\n")
    commit_file(repo, "b.env", f"T={GH}\n")
    git(repo, "checkout", "-q", "--detach", first)
    commit_file(repo, "c.env", f"K={AWS}\n")  # only reachable from the detached HEAD
    _, report = scan(cli, "--history")
    assert rules_at(report) == [("aws-access-key-id", "c.env", 1), ("github-token", "b.env", 1)]


def test_three_dot_range_scans_only_what_the_branch_added(repo: Path, cli: Cli) -> None:
    """``main...feature`` is GitHub's compare: main's own later commits are not the PR's."""
    commit_file(repo, "a.txt", "a\n")
    git(repo, "checkout", "-q", "-b", "feature")
    commit_file(repo, "feature.env", f"NEW={AWS}\n", "the PR's secret")
    git(repo, "checkout", "-q", "main")
    commit_file(repo, "main.env", f"TOKEN={GH}\n", "main moved on (not the PR's)")
    _, report = scan(cli, "--range", "main...feature")
    assert rules_at(report) == [("aws-access-key-id", "feature.env", 1)]
    assert report["metrics"]["commits_scanned"] == 1


def test_three_dot_range_without_common_history_is_exit_2(repo: Path, cli: Cli) -> None:
    commit_file(repo, "a.txt", "a\n")
    git(repo, "checkout", "-q", "--orphan", "other")
    commit_file(repo, "b.txt", "b\n")
    result = cli("secrets", "--range", "main...other")
    assert result.code == 2 and "no merge base" in result.err and "share no history" in result.err


def test_three_dot_range_in_a_shallow_clone_says_how_to_fetch(
    tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    origin = tmp_path / "origin"
    origin.mkdir()
    git(origin, "init", "-q", "-b", "main")
    for i in range(3):
        commit_file(origin, f"f{i}.txt", f"{i}\n")
    git(origin, "checkout", "-q", "-b", "feature")
    commit_file(origin, "feature.env", f"NEW={AWS}\n")
    for i in range(3):
        commit_file(origin, f"g{i}.txt", f"{i}\n")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "1", "--no-single-branch", f"file://{origin}", str(clone))
    monkeypatch.chdir(clone)
    result = cli("secrets", "--range", "origin/main...origin/feature")
    assert result.code == 2 and "no merge base" in result.err and "--deepen" in result.err
    result, report = scan(cli, "--range", "origin/main...origin/feature", "--deepen")
    assert rules_at(report) == [("aws-access-key-id", "feature.env", 1)]
    assert report["metrics"]["commits_scanned"] == 4


def test_unknown_revision_is_exit_2_with_the_fix(repo: Path, cli: Cli) -> None:
    commit_file(repo, "a.txt", "a\n")
    result = cli("secrets", "--range", "deadbeef..HEAD")
    assert result.code == 2
    assert "'deadbeef' is not a commit in this clone" in result.err
    assert "fetch-depth: 0" in result.err


def test_a_bare_repository_is_scanned_by_history_and_range_and_refused_for_staged(
    tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CI mirror is a bare clone: its history and ranges are scanned; --staged has no index to read."""
    origin = tmp_path / "origin"
    origin.mkdir()
    git(origin, "init", "-q", "-b", "main")
    first = commit_file(origin, "a.txt", "a\n")
    commit_file(origin, "app.env", f"AWS_ACCESS_KEY_ID={AWS}\n")
    mirror = tmp_path / "mirror.git"
    git(tmp_path, "clone", "-q", "--bare", str(origin), str(mirror))
    monkeypatch.chdir(mirror)
    result, report = scan(cli, "--history")
    assert result.code == 1 and rules_at(report) == [("aws-access-key-id", "app.env", 1)]
    assert report["metrics"]["commits_scanned"] == 2
    result, report = scan(cli, "--range", f"{first}..HEAD")
    assert result.code == 1 and report["metrics"]["commits_scanned"] == 1
    staged = cli("secrets", "--staged")
    assert staged.code == 2 and "bare repository" in staged.err and "\n" not in staged.err.strip()


# -- shallow clones ---------------------------------------------------------------------------------------


@pytest.fixture
def shallow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, list[str]]:
    origin = tmp_path / "origin"
    origin.mkdir()
    git(origin, "init", "-q", "-b", "main")
    shas = [commit_file(origin, "old.env", f"TOKEN={GH}\n", "secret long ago")]
    shas += [commit_file(origin, f"f{i}.txt", f"{i}\n") for i in range(4)]
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "2", f"file://{origin}", str(clone))
    monkeypatch.chdir(clone)
    return clone, shas


def test_history_in_a_shallow_clone_is_exit_2(shallow: tuple[Path, list[str]], cli: Cli) -> None:
    result = cli("secrets", "--history")
    assert result.code == 2
    assert "shallow" in result.err and "fetch-depth: 0" in result.err and "--deepen" in result.err


def test_range_past_the_shallow_boundary_is_exit_2(shallow: tuple[Path, list[str]], cli: Cli) -> None:
    clone, shas = shallow
    git(clone, "fetch", "-q", "--depth", "1", "origin", shas[0])  # the base exists, its path does not
    result = cli("secrets", "--range", f"{shas[0]}..HEAD")
    assert result.code == 2
    assert "reaches past the boundary of this shallow clone" in result.err


def test_range_inside_the_shallow_part_works(shallow: tuple[Path, list[str]], cli: Cli) -> None:
    _, shas = shallow
    result, report = scan(cli, "--range", f"{shas[-2]}..{shas[-1]}")
    assert result.code == 0 and report["metrics"]["commits_scanned"] == 1


def test_deepen_fetches_what_is_missing(shallow: tuple[Path, list[str]], cli: Cli) -> None:
    clone, shas = shallow
    result, report = scan(cli, "--history", "--deepen")
    assert result.code == 1
    assert [f["location"]["commit"] for f in report["findings"]] == [shas[0]]
    assert git(clone, "rev-parse", "--is-shallow-repository").strip() == "false"


# -- odd content and names --------------------------------------------------------------------------------


def test_odd_file_names(repo: Path, cli: Cli) -> None:
    names = ["with space.env", "new\nline.env", "ünï cödé.env", "dir with space/x.env"]
    for name in names:
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(f"TOKEN={GH}\n")
    raw = os.fsencode(str(repo)) + b"/bad\xff name.env"
    with open(raw, "wb") as handle:
        handle.write(f"TOKEN={GH2}\n".encode())
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "odd names")
    for args in ((), ("--history",)):
        _, report = scan(cli, *args)
        paths = sorted(f["location"]["path"] for f in report["findings"])
        assert paths == sorted([*names, "bad\\xff name.env"]), args
    sarif = cli("secrets", "--format", "sarif")
    assert sarif.code == 1 and "bad%5Cxff%20name.env" in sarif.out


def test_non_utf8_content_is_scanned(repo: Path, cli: Cli) -> None:
    (repo / "latin1.cfg").write_bytes(b"# caf\xe9\npassword = Xk9mP2vLq7Rt\n")
    _, report = scan(cli)
    assert rules_at(report) == [("generic-password", "latin1.cfg", 2)]


def test_binary_looking_files_are_read_huge_ones_named_and_symlinks_not_followed(
    repo: Path, cli: Cli
) -> None:
    """Images are skipped by type; content that only looks binary is scanned (its printable runs); a file
    over max_file_bytes is named as unread (a low finding: on_skipped is "warn" outside CI); a tracked
    symlink is not followed (its target is scanned as itself)."""
    (repo / "image.png").write_bytes(b"\x89PNG\0\0" + GH.encode())
    (repo / "blob.bin.txt").write_bytes(b"\0\1\2" + GH.encode())
    (repo / "big.txt").write_text(f"TOKEN={GH}\n" + "x" * 2000)
    (repo / "lr-ci.toml").write_text("[secrets]\nmax_file_bytes = 1000\n")
    (repo / "real.env").write_text(f"AWS={AWS}\n")
    (repo / "link.env").symlink_to("real.env")
    _, report = scan(cli)
    assert rules_at(report) == [
        ("aws-access-key-id", "real.env", 1),
        ("github-token", "blob.bin.txt", 1),
        ("secrets-unread", "big.txt", None),
    ]
    metrics = report["metrics"]
    assert metrics["decoded_binary"] == 1 and metrics["skipped_huge"] == 1 and metrics["skipped_by_type"] == 1
    assert metrics["unread"] == 1


def test_submodules_are_not_followed(tmp_path: Path, repo: Path, cli: Cli) -> None:
    inner = tmp_path / "inner"
    inner.mkdir()
    git(inner, "init", "-q")
    commit_file(inner, "secret.env", f"T={GH}\n")
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(inner), "vendored")
    git(repo, "commit", "-q", "-m", "add submodule")
    for args in ((), ("--history",), ("--staged",)):
        result, report = scan(cli, *args)
        assert result.code == 0, (args, report["findings"])


def test_lock_and_minified_files_skip_generic_rules_only(repo: Path, cli: Cli) -> None:
    (repo / "uv.lock").write_text(f'password = "{PASSWORD}"\nurl = "x"\ntoken = "{GH}"\n')
    (repo / "static").mkdir()
    (repo / "static" / "vendor.min.js").write_text(f'var password="{PASSWORD}";var t="{AWS}";')
    _, report = scan(cli)
    assert rules_at(report) == [
        ("aws-access-key-id", "static/vendor.min.js", 1),
        ("github-token", "uv.lock", 3),
    ]


# -- suppression ----------------------------------------------------------------------------------------


def test_inline_allow_comments_are_counted(repo: Path, cli: Cli) -> None:
    (repo / "fixtures.py").write_text(
        f'A = "{GH}"  # lr-ci: allow-secret\n'
        f'B = "{AWS}"  # pragma: allowlist secret\n'
        "# pragma: allowlist nextline secret\n"
        f'C = "{GH2}"\n'
    )
    result, report = scan(cli)
    assert result.code == 0 and report["findings"] == []
    assert report["metrics"]["allowed_inline"] == 3


def test_baseline_survives_edits_and_lists_stale_entries(repo: Path, cli: Cli) -> None:
    (repo / "fixtures.env").write_text(f"TOKEN={GH}\nKEY={AWS}\n")
    result = cli("secrets", "baseline", "--format", "json")
    assert result.code == 0 and result.json()["metrics"]["baseline_entries"] == 2
    baseline = json.loads((repo / ".lr-ci-secrets.json").read_text())
    assert [e["rule"] for e in baseline["entries"]] == ["aws-access-key-id", "github-token"]
    text = (repo / ".lr-ci-secrets.json").read_text()
    assert GH not in text and AWS not in text and "line" not in text and "generated" not in text

    baseline["entries"][1]["reason"] = "test fixture, revoked 2026-11-01"
    (repo / ".lr-ci-secrets.json").write_text(json.dumps(baseline))
    (repo / "fixtures.env").write_text(f"# moved down\n\n\nKEY={AWS}\nTOKEN={GH}\n")
    result, report = scan(cli)
    assert result.code == 0 and report["metrics"]["suppressed_baseline"] == 2

    (repo / "fixtures.env").write_text(f"KEY={AWS}\n")
    result, report = scan(cli)
    assert result.code == 0
    assert [(f["rule"], f["severity"]) for f in report["findings"]] == [("baseline-stale", "info")]
    assert report["metrics"]["baseline_stale"] == 1

    assert cli("secrets", "baseline").code == 0
    rewritten = json.loads((repo / ".lr-ci-secrets.json").read_text())
    assert [(e["rule"], e.get("reason")) for e in rewritten["entries"]] == [("aws-access-key-id", None)]
    (repo / "fixtures.env").write_text(f"KEY={AWS}\nTOKEN={GH}\n")
    assert scan(cli)[0].code == 1  # a re-added secret is not accepted any more


def test_baseline_in_history_mode(repo: Path, cli: Cli) -> None:
    commit_file(repo, "old.env", f"TOKEN={GH}\n")
    assert cli("secrets", "baseline").code == 0
    git(repo, "rm", "-q", "old.env")
    git(repo, "commit", "-q", "-m", "gone")
    result, report = scan(cli, "--history")
    assert result.code == 0 and report["metrics"]["suppressed_baseline"] == 1


def test_detect_secrets_baseline_is_honoured(repo: Path, cli: Cli) -> None:
    (repo / "settings.env").write_text(f"DB_PASSWORD={PASSWORD}\nTOKEN={GH}\n")
    sha1 = {value: hashlib.sha1(value.encode()).hexdigest() for value in (PASSWORD, GH)}
    document = {
        "version": "1.5.0",
        "results": {
            "settings.env": [
                {
                    "type": "Secret Keyword",
                    "filename": "settings.env",
                    "hashed_secret": sha1[PASSWORD],
                    "is_verified": False,
                    "line_number": 1,
                    "is_secret": False,
                },
                {
                    "type": "GitHub Token",
                    "filename": "settings.env",
                    "hashed_secret": sha1[GH],
                    "is_verified": False,
                    "line_number": 2,
                    "is_secret": True,
                },
            ]
        },
    }
    (repo / ".secrets.baseline").write_text(json.dumps(document))
    _, report = scan(cli)
    assert rules_at(report) == [("github-token", "settings.env", 2)]
    assert report["metrics"]["suppressed_detect_secrets"] == 1


def test_broken_baseline_is_exit_2(repo: Path, cli: Cli) -> None:
    (repo / ".lr-ci-secrets.json").write_text("{not json")
    result = cli("secrets")
    assert result.code == 2 and ".lr-ci-secrets.json: the secrets baseline is not valid JSON" in result.err


# -- config -------------------------------------------------------------------------------------------


def test_config_excludes_disables_rules_and_sets_the_failing_severity(repo: Path, cli: Cli) -> None:
    (repo / "docs").mkdir()
    (repo / "docs" / "example.md").write_text(f"token {GH}\n")
    (repo / "app.env").write_text(f"STRIPE={STRIPE_TEST}\nAWS={AWS}\n")
    (repo / "lr-ci.toml").write_text(
        '[secrets]\nexclude = ["docs/**"]\ndisable_rules = ["aws-access-key-id"]\n'
    )
    result, report = scan(cli)
    assert rules_at(report) == [("stripe-test-key", "app.env", 1)]
    assert result.code == 0  # low severity: below the default fail_on = "medium"
    (repo / "lr-ci.toml").write_text('[secrets]\nfail_on = "low"\n')
    assert cli("secrets").code == 1


def test_unknown_rule_id_is_a_config_error(repo: Path, cli: Cli) -> None:
    (repo / "lr-ci.toml").write_text('[secrets]\n\ndisable_rules = ["github-tokn"]\n')
    result = cli("secrets")
    assert result.code == 2
    assert "lr-ci.toml:3: secrets.disable_rules: Value error, unknown rule id 'github-tokn'" in result.err


def test_list_rules(cli: Cli) -> None:
    result = cli("secrets", "--list-rules")
    assert result.code == 0 and "github-token" in result.out and "generic-password" in result.out


def test_list_rules_shows_the_paths_a_rule_is_scoped_to(cli: Cli) -> None:
    """A path-scoped rule says where it runs: a suffix in the table, ``paths`` in JSON; others unchanged."""
    from lr_ci.secret_rules.engine import default_rules

    scoped = {rule.id: rule.paths for rule in default_rules().rules if rule.paths}
    assert scoped["pgbouncer-userlist-password"] == ("userlist.txt",)
    assert scoped["pgpass-password"] == (".pgpass", "pgpass", "pgpass.conf")
    text = cli("secrets", "--list-rules")
    assert text.code == 0
    lines = {line.split()[0]: line for line in text.out.splitlines()}
    assert lines["pgbouncer-userlist-password"].endswith(" (only in: userlist.txt)")
    assert lines["pgpass-password"].endswith(" (only in: .pgpass, pgpass, pgpass.conf)")
    unscoped = [line for rule_id, line in lines.items() if rule_id not in scoped]
    assert unscoped and not any("only in:" in line for line in unscoped)
    assert lines["github-token"].endswith(" (verified: github-crc32)")  # the verify suffix as before
    listed = cli("secrets", "--list-rules", "--format", "json")
    assert listed.code == 0
    rules = {rule["id"]: rule for rule in json.loads(listed.out)}
    assert rules["pgbouncer-userlist-password"]["paths"] == ["userlist.txt"]
    assert rules["pgpass-password"]["paths"] == [".pgpass", "pgpass", "pgpass.conf"]
    assert all(rule["paths"] == [] for rule_id, rule in rules.items() if rule_id not in scoped)


@pytest.mark.parametrize("output_format", ["text", "markdown", "sarif", "junit", "github"])
def test_list_rules_prints_the_table_in_every_format_but_json(cli: Cli, output_format: str) -> None:
    """Only ``json`` has a form of its own: every other format prints the table, paths suffix included."""
    result = cli("secrets", "--list-rules", "--format", output_format)
    assert result.code == 0
    assert result.out == cli("secrets", "--list-rules", "--format", "text").out
    assert "pgbouncer-userlist-password" in result.out and "(only in: userlist.txt)" in result.out


# -- GitHub Actions event ranges ----------------------------------------------------------------------------


def write_event(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, payload: dict[str, object]
) -> None:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload))
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_EVENT_NAME", name)
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(path))


def test_pull_request_event_scans_the_pr_commits(
    repo: Path, tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = commit_file(repo, "old.env", f"T={GH}\n")
    head = commit_file(repo, "new.env", f"K={AWS}\n")
    write_event(
        tmp_path,
        monkeypatch,
        "pull_request",
        {"pull_request": {"base": {"sha": base}, "head": {"sha": head}}},
    )
    _, report = scan(cli)
    assert report["metrics"]["mode"] == "range"
    assert rules_at(report) == [("aws-access-key-id", "new.env", 1)]


@pytest.mark.parametrize("kind", ["push", "forced", "new-branch"])
def test_push_events(
    repo: Path, tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    before = commit_file(repo, "old.env", f"T={GH}\n")
    git(repo, "update-ref", "refs/remotes/origin/main", before)
    after = commit_file(repo, "new.env", f"K={AWS}\n")
    payload = {
        "before": before,
        "after": after,
        "forced": kind == "forced",
        "repository": {"default_branch": "main"},
    }
    if kind == "new-branch":
        payload["before"] = "0" * 40
    write_event(tmp_path, monkeypatch, "push", payload)
    _, report = scan(cli)
    assert report["metrics"]["mode"] == "range"
    assert rules_at(report) == [("aws-access-key-id", "new.env", 1)]


# -- redaction ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "junit", "markdown", "github"])
def test_secret_values_never_appear_in_output(
    repo: Path, cli: Cli, fmt: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    (repo / "all.env").write_text(f"TOKEN={GH}\nKEY={AWS}\nDB_PASSWORD={PASSWORD}\n")
    result = cli("secrets", "--format", fmt, "--verbose")
    assert result.code == 1
    summary = (tmp_path / "summary.md").read_text() if fmt == "github" else ""
    for text in (result.out, result.err, summary):
        for value in (GH, AWS, PASSWORD):
            assert value not in text
    assert "ghp_…(40 chars)" in result.out or fmt == "junit"


# -- the hooks, through git and the pre-commit framework ---------------------------------------------------


def test_console_script_staged_run(repo: Path) -> None:
    (repo / "a.env").write_text(f"T={GH}\n")
    git(repo, "add", "a.env")
    done = subprocess.run(
        [lr_ci_executable(), "secrets", "--staged"], cwd=repo, capture_output=True, text=True, check=False
    )
    assert done.returncode == 1 and "a.env:1" in done.stdout and GH not in done.stdout


def test_missing_git_is_exit_2(repo: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    result = cli("secrets", "--history")
    assert (
        result.code == 2 and result.err.strip() == "lr-ci secrets: error: git is not installed or not on PATH"
    )
