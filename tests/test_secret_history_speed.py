"""The history scan's shortcuts find exactly what the long way finds.

- the engine's anchored test of a keyword hit (``RuleSet.anchored``, ``literal_start``): a rule whose
  every match starts at one of its keywords skips the windows of hits where no match starts;
- the faster automaton a rule set builds after searching 256 KB (``RuleSet._faster_automaton``);
- the patch parser's offsets (``git._next_commit``, ``git._marked``, ``git._simple_hunks``), on real git
  output with files that end without a newline; removed lines stripped only when read;
- the runs of one change searched for keywords together (``ContentScanner.worth_scanning``): only runs
  that ``scan_text`` would drop are dropped;
- blobs read through one ``git cat-file --batch-command`` (``git.BlobReader``), and the patch spools and
  error files made without :mod:`tempfile` (``git._spool``, ``git.scratch_file``).
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
from pathlib import Path

import pytest

from lr_ci.checks.secrets import git
from lr_ci.errors import LrCiError
from lr_ci.secret_rules import engine
from lr_ci.secret_rules.engine import (
    RuleSet,
    default_rules,
    fixed_literal,
    literal_start,
    required_characters,
    scan,
)

GITHUB_TOKEN = "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"


def _fresh(monkeypatch: pytest.MonkeyPatch, anchor_after: int, dfa_after: int) -> RuleSet:
    """The shipped rules in a new rule set (nothing measured yet) with the shortcuts' thresholds set."""
    monkeypatch.setattr(engine, "_ANCHOR_AFTER_HITS", anchor_after)
    monkeypatch.setattr(engine, "_DFA_AFTER_BYTES", dfa_after)
    shipped = default_rules()
    return RuleSet(shipped.rules, shipped.placeholders)


def _found(data: bytes, path: str, rules: RuleSet) -> list[tuple[str, str, int, int, str]]:
    hits = scan(data, path, rules, max_hits=None)
    return [(h.rule.id, h.secret, h.line, h.column, h.severity.value) for h in hits]


@pytest.mark.parametrize(
    ("pattern", "start"),
    [
        (r"\b(?P<secret>pat[A-Za-z0-9]{14}\.[a-f0-9]{64})\b", "pat"),
        (r"(?<![A-Za-z0-9%])(?P<secret>A{21}[A-Za-z0-9%]{80,101})", "a" * 21),
        (r"\b(?P<secret>00D[0-9A-Za-z]{12,15}!)", "00d"),
        (r"(?:ghp_|gho_)[A-Za-z0-9]{36}", "gh"),  # the alternatives' common start (re factors it out)
        (r"(?:ghp_|xoxb-)[A-Za-z0-9]{36}", ""),
        (r"x{1,3}y", "x"),  # a repeat with a range: its minimum, then the walk stops
        (r"[a-z]{4}", ""),
        (r"(", ""),  # not a regex: no literal start claimed
    ],
)
def test_literal_start(pattern: str, start: str) -> None:
    assert literal_start(pattern) == start


def test_anchored_rules_are_those_whose_keyword_starts_every_match(monkeypatch: pytest.MonkeyPatch) -> None:
    rules = _fresh(monkeypatch, anchor_after=0, dfa_after=1 << 30)
    ids = {rule.id: index for index, rule in enumerate(rules.rules)}
    assert rules.anchored(ids["airtable-token"])
    assert not rules.anchored(ids["generic-secret"])
    assert not rules.anchored(ids["datadog-api-key"])  # "\bdd" or "datadog": keywords dd_/dd- start neither
    for index, rule in enumerate(rules.rules):
        if rules.anchored(index):
            assert not rule.multiline
            assert any(literal_start(rule.pattern).startswith(keyword) for keyword in rule.keywords)


@pytest.mark.parametrize("accented", ["", "# café: é\n"], ids=["ascii", "not-ascii"])
def test_anchored_test_finds_what_every_window_finds(accented: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every rule's true examples, after many keyword hits where no match starts (``path``, ``re_``...),
    on short and long lines: the same hits with the anchored test as without it. Also in content that is
    not all ASCII (the test is then made on each ASCII line), with examples on lines that are not ASCII
    (where the window search decides)."""
    decoys = b"".join(f"{keyword} = compat(path, re_, dd_, 00d)\n".encode() for keyword in ("x", "y") * 40)
    long_line = b"# " + b"path " * 1000
    blob = bytearray(accented.encode() + decoys)
    for rule in default_rules().rules:
        for example in rule.true_examples:
            blob += decoys[:200] + example.encode() + b"\n" + long_line + b" " + example.encode() + b"\n"
            if accented:
                blob += f"é path re_ {example} path é\n".encode()
    data = bytes(blob)
    slow = _found(data, "config/settings.txt", _fresh(monkeypatch, anchor_after=1 << 30, dfa_after=1 << 30))
    fast = _found(data, "config/settings.txt", _fresh(monkeypatch, anchor_after=0, dfa_after=1 << 30))
    assert fast == slow
    assert any(rule_id == "airtable-token" for rule_id, *_ in fast)


def test_faster_automaton_finds_the_same_keywords(monkeypatch: pytest.MonkeyPatch) -> None:
    data = b"".join(
        f"{keyword} {keyword.upper()} x{keyword}y\n".encode() for keyword in default_rules()._keywords
    )
    nfa = _fresh(monkeypatch, anchor_after=1 << 30, dfa_after=1 << 30)
    dfa = _fresh(monkeypatch, anchor_after=1 << 30, dfa_after=1)
    expected = list(nfa.keywords_in(data, 0, len(data)))
    assert list(dfa.keywords_in(data, 0, len(data))) == expected  # the first call builds the DFA
    assert dfa._dfa_after <= 0
    assert list(dfa.keywords_in(data, 0, len(data))) == expected
    assert dfa.has_keyword(b"token = 1") and not dfa.has_keyword(b"x = 1")


@pytest.mark.parametrize(
    "text",
    [b"", b"\x01a", b"a\n\x01b", b"x\x01\n\x01y\n\x01", b"\x01\x01\n\x01", b"\n\x01", b"abc"],
)
def test_next_commit_is_the_next_newline_before_x01(text: bytes) -> None:
    for at in range(len(text) + 1):
        assert git._next_commit(text, at) == text.find(b"\n\x01", at)


@pytest.mark.parametrize(
    ("side", "marked"),
    [
        (b"-a\n-b\n", False),
        (b"-a\n\\ No newline at end of file\n", True),
        (b"+a\n+b", False),
        (b"+a\n\\ No newline at end of file", True),
        (b"\\ No newline at end of file", True),
        (b"+a \\ b", False),
    ],
)
def test_marked_looks_at_the_last_line_of_a_side(side: bytes, marked: bool) -> None:
    section = b"@@ -1 +1 @@\n" + side + b"\n@@ -9 +9 @@\n+z"
    start = section.index(b"\n") + 1
    assert git._marked(section, start, start + len(side)) is marked


def _commit(repo: Path, files: dict[str, bytes], message: str) -> None:
    for name, content in files.items():
        (repo / name).write_bytes(content)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(
        ["git", "-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-q", "-m", message],
        cwd=repo,
        check=True,
    )


def test_history_with_files_without_a_final_newline(tmp_path: Path) -> None:
    """Removed and added last lines without a newline, a hunk of only the marker's side: the added lines
    are read without git's marker, and a secret on a last line without a newline is found."""
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    _commit(repo, {"f.txt": b"a\nb", "g.txt": b"x"}, "1")
    _commit(repo, {"f.txt": b"a\nc", "g.txt": b"x\ny\n"}, "2")
    _commit(repo, {"f.txt": f"a\ntoken = '{GITHUB_TOKEN}'".encode(), "g.txt": b"z"}, "3")
    changes = [change for _, change in git.commit_patches(repo, ["--all"])]
    added = {(change.commit.sha if change.commit else "", change.path): change.added for change in changes}
    texts = [text for runs in added.values() for _, text in runs]
    assert not any(b"No newline" in text for text in texts)
    assert f"token = '{GITHUB_TOKEN}'".encode() in texts
    assert b"c" in texts and b"x\ny" in texts and b"z" in texts
    removed = [text for change in changes for text in change.removed]
    assert not any(b"No newline" in text for text in removed)


def test_blob_reader_reads_what_cat_file_reads(tmp_path: Path) -> None:
    """One ``cat-file --batch-command`` for every blob: the same sizes and bytes as a git per blob, after a
    stream left early too; an object that is not there is exit 2, and the next request still works."""
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    contents = {"a.bin": bytes(range(256)) * 40, "b.txt": b"token\n" * 3, "empty": b""}
    _commit(repo, contents, "1")
    blobs = {
        name: subprocess.run(
            ["git", "rev-parse", f"HEAD:{name}"], cwd=repo, capture_output=True, text=True, check=True
        ).stdout.strip()
        for name in contents
    }
    with git.BlobReader(repo) as reader:
        for name, blob in blobs.items():
            assert reader.size(blob) == len(contents[name])
            assert b"".join(reader.chunks(blob, chunk_bytes=7)) == contents[name]
        stream = reader.chunks(blobs["a.bin"], chunk_bytes=100)
        assert next(stream) == contents["a.bin"][:100]
        stream.close()  # left early: the process is stopped, the next request starts another
        assert b"".join(reader.chunks(blobs["b.txt"])) == contents["b.txt"]
        with pytest.raises(LrCiError, match="missing"):
            reader.size("0" * 39 + "1")
        assert reader.size(blobs["b.txt"]) == len(contents["b.txt"])


def test_worth_scanning_drops_only_runs_scan_text_would_drop() -> None:
    """The runs of one change searched together for keywords: a run is dropped only when it is short, has
    no NUL byte or byte-order mark and holds no keyword, and its bytes are still counted as scanned."""
    from lr_ci.checks.secrets.scan import ContentScanner

    runs = [
        (1, b"x = 1"),
        (5, f"token = '{GITHUB_TOKEN}'".encode()),
        (9, b"y = 2\nz = 3"),
        (20, b"a\0b"),
        (30, b"\xff\xfe" + "x".encode("utf-16-le")),
        (40, b"w = 4 " * 1000),
        (50, b"tail = PASSword"),
        (60, b""),
    ]
    scanner = ContentScanner(default_rules(), 1 << 20, lambda _path: False)
    kept = scanner.worth_scanning(runs)
    assert kept == [runs[1], runs[3], runs[4], runs[5], runs[6]]
    assert scanner.counts["bytes_scanned"] == sum(len(text) for run in (0, 2, 7) for text in [runs[run][1]])
    assert scanner.worth_scanning(runs[:1]) == []  # one run alone: searched the same way
    assert scanner.worth_scanning(runs[1:2]) == runs[1:2]


def test_worth_scanning_of_short_runs_keeps_those_holding_a_keyword() -> None:
    """Short runs without NUL or byte-order mark (most changes) take a shorter road: the runs kept are
    exactly those a keyword search of each alone keeps, in order, and the others' bytes are counted."""
    from lr_ci.checks.secrets.scan import ContentScanner

    rules = default_rules()
    lines = [
        b"x = 1",
        b"token = 'abc'",
        b"",
        b"path = here",
        b"y = 2\nPASSWORD = x",
        b"z",
        b"key",
        b"caf\xc3\xa9",
    ]
    for size in range(1, len(lines) + 1):
        for shift in range(len(lines)):
            runs = [(number * 10, lines[(number + shift) % len(lines)]) for number in range(size)]
            scanner = ContentScanner(rules, 1 << 20, lambda _path: False)
            assert scanner.worth_scanning(runs) == [run for run in runs if rules.has_keyword(run[1])]
            dropped = sum(len(text) for _, text in runs if not rules.has_keyword(text))
            assert scanner.counts["bytes_scanned"] == dropped
    # A keyword made by the join (YAML's ": |" and its line break) keeps a run a search alone drops: never
    # the other way round.
    scanner = ContentScanner(rules, 1 << 20, lambda _path: False)
    assert scanner.worth_scanning([(1, b"a: |"), (2, b"b")]) == [(1, b"a: |")]


def test_removed_lines_are_stripped_when_read() -> None:
    change = git.FileChange("f.py", removed_runs=[b"-a\n-b\n", b"-c"])
    assert change.removed == [b"a\nb", b"c"]


def test_spool_reader_has_its_own_offset() -> None:
    write_fd, reader = git._spool()
    try:
        os.write(write_fd, b"first ")
        assert reader.read() == b"first "
        os.write(write_fd, b"second")
        assert reader.read() == b"second"
    finally:
        os.close(write_fd)
        reader.close()
    scratch = git.scratch_file()
    scratch.write(b"error")
    scratch.seek(0)
    assert scratch.read() == b"error"
    scratch.close()


GATE_LINES = [
    'sort_key = "Zq8vLm2Rt5Kjp1vRt1fjOxWy"',
    'api_key = "Zq8vLm2Rt5Kjp1vRt1fjOxWy"',
    'apiKey: "Zq8vLm2Rt5Kjp1vRt1fjOxWy"',
    '$env:OPS_API_TOKEN = "Zq8vLm2Rt5Kjp1vRt1fjOxWy"',
    'os.getenv("OPS_SECRET", "Zq8vLm2Rt5Kjp1vRt1fjOxWy")',
    'config.db_password = "Zq8vLm2Rt5Kjp1vRt1fjOxWy"',
    'monkey_keys = "Zq8vLm2Rt5Kjp1vRt1fjOxWy"; bypass = "Zq8vLm2Rt5Kjp1vRt1fjOxWy"',
    'keys = {"a": 1}; token = "Zq8vLm2Rt5Kjp1vRt1fjOxWy"',
    'github_pat = "Zq8vLm2Rt5Kjp1vRt1fjOxWy"',
    "x" * 50 + '_secret = "Zq8vLm2Rt5Kjp1vRt1fjOxWy"',
    "secret_" + "y" * 30 + ' = "Zq8vLm2Rt5Kjp1vRt1fjOxWy"',
    'api_key.value = "Zq8vLm2Rt5Kjp1vRt1fjOxWy"',
    'CLÉ_secret = "Zq8vLm2Rt5Kjp1vRt1fjOxWy"',
]


@pytest.mark.parametrize("line", GATE_LINES)
def test_the_key_gate_finds_what_the_window_search_finds(line: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``RuleSet.key_may_pass``: a keyword hit of generic-secret/-password whose name fails ``key_words``
    is skipped; every line gives the same hits with the gate as without it."""
    gated = _fresh(monkeypatch, anchor_after=1 << 30, dfa_after=1 << 30)
    plain = _fresh(monkeypatch, anchor_after=1 << 30, dfa_after=1 << 30)
    plain.key_gated = [False] * len(plain.rules)
    assert sum(gated.key_gated) == 2
    for path in ("app/settings.py", "conf/app.env"):
        data = (line + "\n").encode()
        assert _found(data, path, gated) == _found(data, path, plain)


def test_the_key_gate_reads_the_name_around_the_keyword() -> None:
    rules = default_rules()
    index = {rule.id: n for n, rule in enumerate(rules.rules)}

    def passes(rule: str, text: bytes, keyword: bytes) -> bool:
        return rules.key_may_pass(index[rule], text, text.index(keyword))

    assert not passes("generic-secret", b"x.sort_key = 1", b"key")
    assert not passes("generic-secret", b"monkey = 1", b"key")
    assert passes("generic-secret", b"(apiKey: 1", b"Key")
    assert passes("generic-secret", b"$env:OPS_API_TOKEN = 1", b"TOKEN")
    assert passes("generic-secret", b" github_pat = 1", b"_pat =")
    assert not passes("generic-password", b"bypass = 1", b"pass")
    assert passes("generic-password", b'"DB_PASSWORD"', b"PASS")


@pytest.mark.parametrize(
    ("pattern", "required"),
    [
        (
            r"\b(?:[a-z]{1,20})://(?P<user>[^\s:/@]{0,64}):(?P<secret>[^\s:/]{3,128})@(?P<host>[a-z.]{1,255})",
            ":/@",
        ),
        (r"\b(?P<secret>pat[A-Za-z0-9]{14}\.[a-f0-9]{64})\b", "."),
        (r"(?i)key(?:=|:)\s{0,4}(?P<secret>[a-z]{8})", ""),  # alternatives with nothing in common
        (r"(?:a=b|c=d)", "="),  # ... or something in common
        (r"x(?:-y)?z(?=;)", ""),  # optional parts and look-aheads hold nothing for sure
        (r"(?:-{5}BEGIN)", "-"),
        (r"(", ""),
    ],
)
def test_required_characters(pattern: str, required: str) -> None:
    assert required_characters(pattern) == required


@pytest.mark.parametrize(
    "line",
    [
        "see https://docs.example.org/setup for the password",
        "db = postgres://ops:Xk9mP2vLq7Rt@db.internal:5432/ops",
        "path = patRtY7uVw3xZq1aBcdE.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "path = os.path.join(base, 'patterns')",
    ],
)
def test_windows_without_a_required_character_find_nothing_more(
    line: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``Rule.required``: skipping a window that lacks a character every match holds changes no hit."""
    fast = _fresh(monkeypatch, anchor_after=1 << 30, dfa_after=1 << 30)
    slow = RuleSet(tuple(dataclasses.replace(rule, required=b"") for rule in fast.rules), fast.placeholders)
    data = (line + "\n").encode()
    assert _found(data, "conf/app.env", fast) == _found(data, "conf/app.env", slow)


@pytest.mark.parametrize(
    ("pattern", "after", "found"),
    [
        (r"\b(?P<secret>pat[A-Za-z0-9]{14}\.[a-f0-9]{64})\b", 3, (17, ord("."))),
        (r"\b(?P<secret>re_[1-9A-Za-z]{8}_[1-9A-Za-z]{24})\b", 3, (11, ord("_"))),
        (r"\b(?P<secret>re_[1-9A-Za-z]{8}_[1-9A-Za-z]{24})\b", 0, (2, ord("_"))),
        (r"ghp_[A-Za-z0-9]{36}", 4, None),  # no punctuation after the keyword
        (r"x{1,3}\.", 0, None),  # not at a fixed offset
        (r"(?i)ab[cd]-", 0, (3, ord("-"))),
        (r"(", 0, None),
    ],
)
def test_fixed_literal(pattern: str, after: int, found: tuple[int, int] | None) -> None:
    assert fixed_literal(pattern, after) == found


@pytest.mark.parametrize(
    "line",
    [
        "path = os.path.join(base, 'patterns'); re_compile = re_sub",
        "AIRTABLE = 'patRtY7uVw3xZq1aBc.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'",
        "key = 're_aB3dE5fG_hJ7kL9mN2pQ4rS6tU8vW1xY3z'",
    ],
)
def test_the_fixed_literal_finds_what_the_regex_finds(line: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """An anchored rule's hit whose byte at the fixed offset is not the literal is skipped: no hit lost."""
    fast = _fresh(monkeypatch, anchor_after=0, dfa_after=1 << 30)
    slow = _fresh(monkeypatch, anchor_after=1 << 30, dfa_after=1 << 30)
    data = (line + "\n").encode()
    assert _found(data, "conf/app.py", fast) == _found(data, "conf/app.py", slow)


# -- a keyword of one repeated character: one hit per run of it ------------------------------------------

TWITTER_BODY = (
    "MLheAAAAAAAA0%2BuSeid%2BULvsea4JtiGRiSDSJSI%3DEUifiRBkKG5E2XzMDjRfl76ZC9Ub0wnz4XsNiRVBChTYbJcE3F"
)


def _twitter_index(rules: RuleSet) -> int:
    return next(index for index, rule in enumerate(rules.rules) if rule.id == "twitter-bearer-token")


def test_a_run_of_a_repeated_character_keyword_is_one_hit() -> None:
    """Twitter's bearer tokens start with 21 ``A``: the automaton reported every position of a run of
    ``A`` (base64 of zero bytes) as a hit, 4 MB of it 4 million hits; now each run is one."""
    rules = default_rules()
    twitter = _twitter_index(rules)
    data = b"x = '" + b"A" * 4000 + b"'\n" + b"a" * 30 + b" " + b"%" + b"A" * 25 + b"\n"
    hits = [offset for offset, _length, rule in rules.keywords_in(data, 0, len(data)) if rule == twitter]
    assert hits == [5, 4007, 4039]
    assert rules.has_keyword(b"A" * 21) and not rules.has_keyword(b"A" * 20)
    assert rules.keyword_starts(b"token " + b"A" * 50) == [0, 6]


def test_run_keywords_find_what_every_position_finds(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same findings with one hit per run as with a hit at every position: tokens after runs of ``A``
    and ``a``, after ``%`` and letters, inside a run (no match: the look-behind), on short and long lines,
    and across the 64 KB slices the keywords are found in."""
    token = "A" * 21 + TWITTER_BODY
    lines = [
        f"TWITTER_BEARER={token}",
        f"x = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA{token}'",
        f"y = '%{token}' and z = 'aaaaaaaaaaaaaaaaaaaaaaaaa {token}'",
        "# " + "A" * 5000 + f" {token} " + "a" * 5000 + f"/{token}",
        *(
            example
            for example in next(
                r for r in default_rules().rules if r.id == "twitter-bearer-token"
            ).true_examples
        ),
    ]
    crossing = "A" * (engine._KEYWORD_SLICE_BYTES - 30) + f" {token}\n" + "b" * 40 + "A" * 100 + f"-{token}"
    data = ("\n".join(lines) + "\n" + crossing + "\n").encode()
    runs = _fresh(monkeypatch, anchor_after=0, dfa_after=1 << 30)
    assert runs._runs
    monkeypatch.setattr(engine, "_run_keyword", lambda keyword, rules: False)
    every = _fresh(monkeypatch, anchor_after=0, dfa_after=1 << 30)
    assert not every._runs
    found = _found(data, "config/settings.txt", runs)
    assert found == _found(data, "config/settings.txt", every)
    assert sum(rule_id == "twitter-bearer-token" for rule_id, *_ in found) >= 4


@pytest.mark.parametrize(
    ("pattern", "keyword", "run"),
    [
        (r"(?<![A-Za-z0-9%])(?P<secret>A{21}[A-Za-z0-9%]{80,101})", "a" * 21, True),
        (r"(?P<secret>A{21}[A-Za-z0-9%]{80,101})", "a" * 21, False),  # no look-behind: any position may start
        (r"(?<![0-9])(?P<secret>A{21}[A-Za-z0-9%]{80,101})", "a" * 21, False),  # it does not refuse "a"
        (r"(?<![a-z])(?P<secret>A{21}[A-Za-z0-9%]{80,101})", "a" * 21, False),  # nor "A"
        (r"(?<![A-Za-z])(?P<secret>[A-Z]{21}[0-9]{8})", "a" * 21, False),  # matches need not start with it
        (r"(?<![A-Za-z])(?P<secret>ab[0-9]{8})", "ab", False),  # not one repeated character
    ],
)
def test_run_keywords_are_repeated_characters_behind_a_look_behind(
    pattern: str, keyword: str, run: bool
) -> None:
    rule = engine._rule(
        {"id": "r", "description": "r", "severity": "high", "regex": pattern, "keywords": [keyword],
         "max_width": 200, "multiline": False}
    )  # fmt: skip
    assert engine._run_keyword(keyword, [rule]) is run
    assert bool(RuleSet((rule,), ())._runs) is run


def test_an_anchored_keyword_is_tested_where_it_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    """Once Airtable's rule is measured anchored, its keyword ``pat`` in ``path`` is no hit at all (the
    ``.`` every token has 17 bytes on is not there); a token's ``pat`` still is, and so is a ``pat`` whose
    bytes up to there are not ASCII (the window search decides)."""
    rules = _fresh(monkeypatch, anchor_after=0, dfa_after=1 << 30)
    airtable = next(index for index, rule in enumerate(rules.rules) if rule.id == "airtable-token")
    token = next(r for r in rules.rules if r.id == "airtable-token").true_examples[0].split("=")[-1]

    def hits(data: bytes) -> list[int]:
        return [offset for offset, _length, rule in rules.keywords_in(data, 0, len(data)) if rule == airtable]

    assert hits(b"path = 1\n") == [0]  # not measured yet: a hit, which _Scan._block would measure
    assert rules.anchored(airtable) and rules._keyword_fixed
    assert hits(b"path = 1\n" * 3) == []
    assert hits(f"x = {token}\n".encode()) == [4]
    assert hits("patché.é.é.é.é.é.é\n".encode()) == [0]
    assert hits(b"pat") == []  # no room for the literal
