"""Rules scoped to file names (``paths``: pgbouncer's ``userlist.txt``, ``.pgpass``): read in their files
whatever keywords the text holds, by the engine and by every road of ``lr-ci secrets`` that drops text
for lack of a keyword (the short-text shortcut, the history's runs, the staged hook), and nowhere else."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from helpers.cli import Cli
from helpers.git import git
from lr_ci.secret_rules.engine import Hit, default_rules, scan

PASSWORD = "Hn4tW9qLz2Rk"  # synthetic
USERLIST = f'"ops" "{PASSWORD}"\n'
MD5 = "md5" + "3f9c2a7e1b5d8c4f6a0e2b7d9c1f3a5e"
SCRAM = (
    "SCRAM-SHA-256$4096:bXlzYWx0bXlzYWx0bXlzYQ==$"
    "c3RvcmVka2V5c3RvcmVka2V5c3RvcmVka2V5c3RvcmVrZXk=:"
    "c2VydmVya2V5c2VydmVya2V5c2VydmVya2V5c2VydmVrZXk="
)


def _found(hits: list[Hit]) -> list[tuple[str, str]]:
    return [(hit.rule.id, hit.secret) for hit in hits]


def test_path_rules_are_decided_per_file_name() -> None:
    rules = default_rules()
    by_id = {rule.id: index for index, rule in enumerate(rules.rules)}
    assert rules.path_rules("deploy/pgbouncer/userlist.txt") == (by_id["pgbouncer-userlist-password"],)
    assert rules.path_rules("userlist.txt") == (by_id["pgbouncer-userlist-password"],)
    assert rules.path_rules("home/ops/.pgpass") == (by_id["pgpass-password"],)
    assert rules.path_rules("C:\\Users\\ops\\AppData\\postgresql\\pgpass.conf") == (by_id["pgpass-password"],)
    assert rules.path_rules("app/settings.py") == ()
    assert rules.path_rules("docs/userlist.txt.md") == ()
    assert rules.without(["pgpass-password"]).path_rules(".pgpass") == ()


def test_a_userlist_line_is_found_in_userlist_txt_only() -> None:
    assert _found(scan(USERLIST.encode(), "pgbouncer/userlist.txt")) == [
        ("pgbouncer-userlist-password", PASSWORD)
    ]
    assert _found(scan(USERLIST.encode(), "pgbouncer/users.txt")) == []
    assert _found(scan(USERLIST.encode(), "app/notes.md")) == []


def test_hashes_in_a_userlist_are_not_passwords() -> None:
    text = f'"ops" "{MD5}"\n"app" "{SCRAM}"\n'
    assert _found(scan(text.encode(), "pgbouncer/userlist.txt")) == []


def test_a_long_userlist_is_read_past_the_engines_blocks() -> None:
    """The engine resolves hits a block (256 KB) at a time: a path rule reads every block."""
    filler = "".join(f'"user{n}" "{MD5}"\n' for n in range(12_000))
    data = (filler + USERLIST + filler).encode()
    hits = scan(data, "pgbouncer/userlist.txt")
    assert [(h.secret, h.line) for h in hits] == [(PASSWORD, 12_001)]


def test_a_pgpass_line_is_read_in_pgpass_files_whatever_its_port() -> None:
    line = f"db.ops.internal:15432:ops:ops_rw:{PASSWORD}\n"
    assert _found(scan(line.encode(), "home/ops/.pgpass")) == [("pgpass-password", PASSWORD)]
    assert _found(scan(line.encode(), "deploy/postgres/pgpass")) == [("pgpass-password", PASSWORD)]
    assert _found(scan(line.encode(), "deploy/hosts.txt")) == []


def test_the_content_scanners_shortcuts_keep_files_a_path_rule_names() -> None:
    """``scan_text`` drops a short text without keywords, ``worth_scanning`` a run without one: not in a
    file that a path rule reads."""
    from lr_ci.checks.secrets.scan import ContentScanner

    scanner = ContentScanner(default_rules(), 1 << 20, lambda path: False)
    found: list[Hit] = []
    scanner.scan_text(USERLIST.encode(), "pgbouncer/userlist.txt", found.extend)
    assert _found(found) == [("pgbouncer-userlist-password", PASSWORD)]
    found.clear()
    scanner.scan_text(USERLIST.encode(), "pgbouncer/users.txt", found.extend)
    assert found == []
    runs = [(1, USERLIST.encode()), (3, b'"app" "x"')]
    assert scanner.worth_scanning(runs, "pgbouncer/userlist.txt") == runs
    assert scanner.worth_scanning(runs, "pgbouncer/users.txt") == []


def _commit(repo: Path, name: str, text: str) -> None:
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    git(repo, "add", "--", name)
    git(repo, "commit", "-q", "-m", f"add {name}")


def _findings(cli: Cli, *args: str) -> list[tuple[str, str, Any]]:
    result = cli("secrets", "--format", "json", *args)
    assert result.code in (0, 1), result.err
    return sorted(
        (f["rule"], f["location"]["path"], f["location"]["line"]) for f in result.json()["findings"]
    )


def test_working_tree_staged_and_history_read_a_userlist(repo: Path, cli: Cli) -> None:
    _commit(repo, "README.md", "ops\n")
    (repo / "pgbouncer").mkdir()
    (repo / "pgbouncer" / "userlist.txt").write_text(f'"app" "{MD5}"\n' + USERLIST)
    (repo / "pgbouncer" / "users.txt").write_text(USERLIST)  # the same line, named otherwise
    git(repo, "add", "pgbouncer")
    expected = [("pgbouncer-userlist-password", "pgbouncer/userlist.txt", 2)]
    assert _findings(cli, "--staged") == expected
    assert _findings(cli) == expected
    git(repo, "commit", "-q", "-m", "pgbouncer users")
    # a later one-line edit elsewhere in the file: the history reads the run added, with no keyword in it
    with (repo / "pgbouncer" / "userlist.txt").open("a") as file:
        file.write('"report" "Qp7vN3xKw8Ls"\n')
    git(repo, "commit", "-q", "-am", "one more user")
    assert _findings(cli, "--history") == [
        *expected,
        ("pgbouncer-userlist-password", "pgbouncer/userlist.txt", 3),
    ]


LOG_TOKEN = "Zq3Wm8Kx4Vn7Rt5Jp2Ls9Hd6"  # synthetic
LOG_LINE = f"2024-05-01T12:00:01Z INFO  auth: using access token {LOG_TOKEN} for user ops\n"


def test_log_files_are_named_by_globs() -> None:
    rules = default_rules()
    log_rule = {rule.id: index for index, rule in enumerate(rules.rules)}["log-line-secret"]
    logs = ("var/log/APP.LOG", "app.log.1", "app.log.10", "app.log.2024-05-01", "ci/build.out", "LOG.TXT")
    for path in (*logs, "deploy/server-log.txt"):
        assert rules.path_rules(path) == (log_rule,), path
    for path in ("app/logic.py", "catalog.txt", "docs/logging.md", "app.log.py", "blog.txt", "app.log.x1"):
        assert rules.path_rules(path) == (), path


def test_a_token_in_a_log_line_is_found_in_log_files_only() -> None:
    assert _found(scan(LOG_LINE.encode(), "var/log/app.log")) == [("log-line-secret", LOG_TOKEN)]
    assert _found(scan(LOG_LINE.encode(), "docs/troubleshooting.md")) == []
    assert _found(scan(LOG_LINE.encode(), "notes.txt")) == []


def test_a_log_file_with_long_lines_is_read_all_the_same() -> None:
    """JSON logs have long lines: content whose lines average over 1,000 bytes reads as minified code,
    where generic rules are skipped, but not a rule scoped to the file's name."""
    padding = ", ".join(f'"field{n}": "value {n}"' for n in range(80))
    lines = [f'{{"level": "info", "n": {n}, {padding}}}\n' for n in range(20)]
    data = "".join(lines[:10]) + LOG_LINE + "".join(lines[10:]) + "x" * 3000 + "\n"
    assert _found(scan(data.encode(), "var/log/app.log")) == [("log-line-secret", LOG_TOKEN)]


def test_a_log_line_reports_the_token_without_the_sentence_around_it() -> None:
    for line in (
        f"api key is {LOG_TOKEN}.",
        f"refresh token [{LOG_TOKEN}]",
        f"password for user ops: {LOG_TOKEN}",
    ):
        assert _found(scan(f"2024-05-01 INFO {line}\n".encode(), "app.log")) == [
            ("log-line-secret", LOG_TOKEN)
        ], line


def test_a_log_file_committed_in_history_is_read_line_by_line(repo: Path, cli: Cli) -> None:
    _commit(repo, "README.md", "ops\n")
    _commit(repo, "debug/app.log", "2024-05-01T12:00:00Z INFO start\n" + LOG_LINE)
    _commit(repo, "docs/troubleshooting.md", LOG_LINE)  # the same line in a page: prose, not read
    assert _findings(cli, "--history") == [("log-line-secret", "debug/app.log", 2)]


def test_a_scoped_rules_keywords_are_hits_only_in_its_files() -> None:
    """log-line-secret shares "token" and "key" with the generic rules: a file it does not run on gets no
    hit of it (nothing to skip per keyword), a log file gets both."""
    rules = default_rules()
    log_rule = {rule.id: index for index, rule in enumerate(rules.rules)}["log-line-secret"]
    data = b"session token for ops\n"
    everywhere = {rule for _, _, rule in rules.keywords_in(data, 0, len(data))}
    unscoped = {rule for _, _, rule in rules.keywords_in(data, 0, len(data), with_scoped=False)}
    assert log_rule in everywhere and log_rule not in unscoped
    assert everywhere - unscoped == {log_rule}
