"""The secret detection engine on adversarial input: linear in time, bounded in memory (issue 11).

Every rule in ``rules/*.toml`` gets the same inputs, generated from its own keywords and true examples, so a
rule added later is covered without touching this file: its keywords repeated on one line and with every
separator, its match without the last character (a prefix repeated with no terminator), its prefix
followed by a run of its own alphabet, and the first line of a multi-line example repeated (``BEGIN`` lines
with no ``END``). A super-linear regex takes minutes on these; a linear one well under a second.

The inputs run in a worker subprocess (one per test process), each case bounded by
:data:`CASE_TIMEOUT_S`: a case past it is killed and the test fails, instead of hanging the suite; the
worker's CPU time for a case must stay under :data:`CASE_CPU_S`, ten times what a linear engine needs.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.hostile import PEAK_RSS_LIMIT, all_format_outputs, run_measured
from lr_ci.secret_rules.engine import (
    DEFAULT_MAX_HITS,
    MAX_MATCH_CHARS,
    MAX_MULTILINE_MATCH_CHARS,
    Rule,
    default_rules,
    scan,
)

RULES = default_rules().rules
CASE_BYTES = 128 << 10
"""Each generated input is about this big (one line of it, or lines)."""
EXAMPLES_PER_RULE = 2
"""The true examples each rule's inputs are made from (more add time, not kinds of input)."""
CASE_TIMEOUT_S = 10.0
"""A case still running after this is killed: the engine hangs on it."""
CASE_CPU_S = 2.0
"""Generous: every case takes under 0.2 s of CPU when the engine is linear. Before issue 11, the
connection-string rule took 27 s on one of them, private-key 3 s, and a JWT prefix 2.3 s."""
SEPARATORS = ' -_.=:"/+\t;'
"""Characters a regex may treat as a start or a terminator: each is put between repeated keywords."""


def path_of(rule: Rule) -> str:
    """Where a rule's hostile inputs are scanned: a path-scoped rule's own file (it runs nowhere else)."""
    return "ops/" + rule.paths[0].replace("*", "a") if rule.paths else "settings.cfg"


def _fill(unit: str, size: int) -> str:
    return unit * max(1, size // max(1, len(unit)))


def _one_line(text: str, size: int) -> str:
    """``text`` as one line, followed by enough empty lines that the file does not count as minified.

    (A file whose average line is over 1,000 bytes skips the generic rules; an attacker can defeat that
    with empty lines, so the tests do too, and the generic rules meet the long line.)
    """
    return text + "\n" * (size // 500 + 1)


def _examples(rule: Rule) -> Iterator[tuple[str, str]]:
    """(whole match, secret) of each of the rule's true examples."""
    for example in rule.true_examples:
        match = rule.regex.search(example)
        assert match is not None, (rule.id, example)
        secret = next(
            (
                match.group(name)
                for name in ("secret", "secret2")
                if name in match.re.groupindex and match.group(name)
            ),
            match.group(0),
        )
        yield match.group(0), secret


def adversarial_inputs(rule: Rule, size: int = CASE_BYTES) -> dict[str, str]:
    """Named hostile inputs for ``rule``, each about ``size`` bytes. A path-scoped rule without keywords
    reads every line of its files: the punctuation its matches hold stands in for keywords."""
    keywords = list(rule.keywords) or list(rule.required.decode()) or ["a"]
    cases = {
        "keywords-one-line": _one_line(_fill(" ".join(keywords) + " ", size), size),
        "keywords-run": _one_line(_fill("".join(keywords), size), size),
        "keywords-non-ascii": _one_line(_fill(" é".join(keywords) + "日\udcff", size), size),
        "keywords-separators": _one_line(
            "".join(
                _fill(k + sep, size // (len(SEPARATORS) * len(keywords)))
                for sep in SEPARATORS
                for k in keywords
            ),
            size,
        ),
    }
    for number, (match, secret) in enumerate(list(_examples(rule))[:EXAMPLES_PER_RULE]):
        almost = match[:-1]
        cases[f"almost-match-run-{number}"] = _one_line(_fill(almost, size), size)
        cases[f"almost-match-spaced-{number}"] = _one_line(_fill(almost + " ", size), size)
        cases[f"almost-match-lines-{number}"] = _fill(almost + "\n", size)
        head = match[: match.find(secret)] if secret in match else match[:10]
        alphabet = "".join(sorted(set(secret))) or "a"
        cases[f"prefix-then-alphabet-{number}"] = _one_line(head + _fill(alphabet, size), size)
        cases[f"prefix-repeated-{number}"] = _one_line(_fill(head + alphabet[:5], size), size)
        lowered = match.lower()
        at, keyword = min(((lowered.find(k), k) for k in keywords if k in lowered), default=(0, ""))
        if keyword:
            cased, head = match[at : at + len(keyword)], match[: at + len(keyword)]
        else:  # the keyword is around the match (TWILIO_API_KEY=SK...), not in it
            cased, head = keywords[0], keywords[0] + match[:4]
        per_separator = size // len(SEPARATORS)
        cases[f"cased-keyword-separators-{number}"] = _one_line(
            "".join(_fill(cased + sep, per_separator) for sep in SEPARATORS), size
        )
        cases[f"head-separators-{number}"] = _one_line(
            "".join(_fill(head + sep, per_separator) for sep in SEPARATORS), size
        )
        first_line = match.split("\n", 1)[0]
        if first_line != match:
            cases[f"first-line-lines-{number}"] = _fill(first_line + "\n", size)
            cases[f"first-line-run-{number}"] = _one_line(_fill(first_line, size), size)
    return cases


def _worker_main() -> None:
    """The worker loop: one request a line (rule id, case name, size), one JSON answer a line."""
    rules = {rule.id: rule for rule in RULES}
    for request in sys.stdin:
        rule_id, case, size = request.split()
        data = adversarial_inputs(rules[rule_id], int(size))[case].encode("utf-8", "surrogateescape")
        started = time.process_time()
        hits = scan(data, path_of(rules[rule_id]))
        answer = {"seconds": time.process_time() - started, "hits": len(hits), "searched": hits.searched}
        print(json.dumps(answer), flush=True)


class _Worker:
    """A subprocess that scans generated inputs; killed (and restarted on the next case) past a bound."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[str] | None = None

    def _start(self) -> subprocess.Popen[str]:
        here = Path(__file__).resolve().parent
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(here), str(here.parent / "src")])}
        code = "import test_hostile_engine as t; t._worker_main()"
        return subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )

    def run(self, rule_id: str, case: str, size: int) -> dict[str, float]:
        if self.process is None or self.process.poll() is not None:
            self.process = self._start()
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"{rule_id} {case} {size}\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], CASE_TIMEOUT_S + 5)
        if not ready:
            self.close()
            raise AssertionError(f"{rule_id} {case}: not done within {CASE_TIMEOUT_S} s")
        line = self.process.stdout.readline()
        assert line, f"{rule_id} {case}: the worker died"
        answer: dict[str, float] = json.loads(line)
        return answer

    def close(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.communicate()
            self.process = None


@pytest.fixture(scope="module")
def worker() -> Iterator[_Worker]:
    started = _Worker()
    yield started
    started.close()


def test_every_rule_has_a_bounded_match_length() -> None:
    """Windows around keywords are only exact when no match can be longer than the documented bound."""
    for rule in RULES:
        limit = MAX_MULTILINE_MATCH_CHARS if rule.multiline else MAX_MATCH_CHARS
        assert 0 < rule.max_width <= limit, (rule.id, rule.max_width)


def test_a_rule_with_an_unbounded_match_is_refused() -> None:
    from lr_ci.secret_rules.engine import rule_data

    data = {"id": "x", "description": "x", "severity": "high", "regex": r"tok_[a-z]+", "keywords": ["tok_"]}
    with pytest.raises(ValueError, match="x: the regex has no bound"):
        rule_data(data)


@pytest.mark.parametrize("rule", RULES, ids=[rule.id for rule in RULES])
def test_rule_is_linear_on_adversarial_input(rule: Rule, worker: _Worker) -> None:
    for case in adversarial_inputs(rule, 64):
        answer = worker.run(rule.id, case, CASE_BYTES)
        assert answer["seconds"] < CASE_CPU_S, (rule.id, case, answer)


def test_regex_work_grows_linearly_with_the_input() -> None:
    """Deterministic, not timed: doubling any rule's hostile input at most ~doubles what its regexes read.

    ``Hits.searched`` counts the characters handed to regexes; a keyword per window re-reading its line
    (O(keywords x line)) would make it grow with the square of the input. Backtracking inside a match is
    bounded by each rule's bounded match length (:func:`test_every_rule_has_a_bounded_match_length`).
    """
    small, large = 8 << 10, 16 << 10  # long lines (over LONG_LINE_BYTES): windows, not whole lines
    for rule in RULES:
        for case, text in adversarial_inputs(rule, small).items():
            bigger = adversarial_inputs(rule, large)[case]
            work = [
                scan(t.encode("utf-8", "surrogateescape"), path_of(rule)).searched for t in (text, bigger)
            ]
            assert work[1] <= 2.5 * max(work[0], small), (rule.id, case, work)


@pytest.mark.parametrize(
    "line",
    ["-----BEGIN RSA PRIVATE KEY-----", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA"],
    ids=["begin-lines", "begin-and-body-lines"],
)
def test_private_key_begin_lines_without_end(line: str, worker: _Worker, tmp_path: Path) -> None:
    """The issue's repro at 2 MB: BEGIN lines and no END took minutes (10 s at 256 KB)."""
    data = (line + "\n") * (2_000_000 // (len(line) + 1))
    started = time.process_time()
    assert scan(data.encode(), "key.pem") == []
    assert time.process_time() - started < CASE_TIMEOUT_S


def test_many_keywords_on_one_long_line_are_searched_once_each(tmp_path: Path) -> None:
    """4 MB on one line: every keyword of every rule, with an almost-match of each generic rule."""
    parts = [
        " ".join(k for rule in RULES for k in rule.keywords),
        "password=x1 ",
        "api_key: 'x' ",
        "s://a:b@",
    ]
    line = _fill(" ".join(parts), 4 << 20)
    data = _one_line(line, 4 << 20).encode()
    started = time.process_time()
    scan(data, "settings.cfg")
    assert time.process_time() - started < CASE_TIMEOUT_S


def _almost_matches() -> list[str]:
    """Every rule's first true match without its last character: a prefix of each family with no end."""
    return [next(_examples(rule))[0][:-1] for rule in RULES]


def test_almost_matches_of_every_rule_on_one_4mb_line() -> None:
    data = _one_line(_fill(" ".join(_almost_matches()).replace("\n", " ") + " ", 4 << 20), 4 << 20).encode()
    started = time.process_time()
    scan(data, "settings.cfg")
    assert time.process_time() - started < CASE_TIMEOUT_S


def test_almost_matches_of_every_rule_as_2mb_of_lines() -> None:
    data = _fill("\n".join(_almost_matches()) + "\n", 2 << 20).encode()
    started = time.process_time()
    scan(data, "settings.cfg")
    assert time.process_time() - started < CASE_TIMEOUT_S


def test_a_real_secret_among_adversarial_input_is_still_found() -> None:
    """The bounds cut work, not findings: a token in the middle of a hostile long line is reported."""
    token = "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"
    noise = _fill("ghp_ password= eyJ -----BEGIN RSA PRIVATE KEY----- ", 1 << 20)
    data = _one_line(f"{noise} token={token} {noise}", 2 << 20).encode()
    hits = scan(data, "settings.cfg")
    assert [(h.rule.id, h.secret) for h in hits] == [("github-token", token)]
    assert hits[0].line == 1
    assert hits[0].column == len(noise) + len(" token=") + 1


def test_hits_are_capped_and_the_rest_counted() -> None:
    lines = "".join(f"db_password = 'Xk9mP2vLq{i:07d}'\n" for i in range(DEFAULT_MAX_HITS + 250))
    hits = scan(lines.encode(), "settings.cfg")
    assert len(hits) == DEFAULT_MAX_HITS
    assert hits.dropped == 250
    assert [h.line for h in hits[:3]] == [1, 2, 3]
    few = scan(lines.encode(), "settings.cfg", max_hits=10)
    assert (len(few), few.dropped) == (10, DEFAULT_MAX_HITS + 240)
    everything = scan(lines.encode(), "settings.cfg", max_hits=None)
    assert (len(everything), everything.dropped) == (DEFAULT_MAX_HITS + 250, 0)


def test_keywords_are_streamed_not_listed() -> None:
    """2 MB of keywords on one line allocate a few MB at most (a list of every keyword took ~60 MB)."""
    import tracemalloc

    data = _one_line(_fill("pass ", 2 << 20), 2 << 20).encode()
    tracemalloc.start()
    try:
        scan(data, "settings.cfg")
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, peak


def _password_lines(size: int) -> bytes:
    """``password=<random>`` lines: every line a keyword and a hit (the issue's 45 MB file, in small)."""
    random_part = os.urandom(size * 3 // 4 // 2).hex()
    width = 20
    return b"".join(
        b"password=" + random_part[i : i + width].encode() + b"\n"
        for i in range(0, len(random_part) - width, width)
    )


def test_one_scan_of_an_8mb_window_of_password_lines_stays_small(tmp_path: Path) -> None:
    """``lr-ci secrets FILE`` on 8 MB of ``password=`` lines: bounded hits, the whole process tree small."""
    (tmp_path / "lr-ci.toml").write_text("[secrets]\nmax_file_bytes = 20_000_000\n")
    data = _password_lines(8 << 20)
    (tmp_path / "passwords.env").write_bytes(data)
    (tmp_path / "out").mkdir()
    result = run_measured(
        ["secrets", "--format", "text", "passwords.env"],
        cwd=tmp_path,
        timeout_s=120,
        outputs=all_format_outputs(tmp_path / "out"),
    )
    assert result.code == 1, result.err
    assert "Traceback" not in result.err and "internal error" not in result.err, result.err
    first_secret = data.split(b"\n", 1)[0].split(b"=", 1)[1].decode()
    assert first_secret not in result.everything
    assert result.peak_rss <= PEAK_RSS_LIMIT, result.peak_rss


def test_begin_lines_through_lr_ci_secrets(tmp_path: Path) -> None:
    (tmp_path / "keys.txt").write_bytes(b"-----BEGIN RSA PRIVATE KEY-----\n" * 62_500)
    result = run_measured(["secrets", "--format", "json", "keys.txt"], cwd=tmp_path, timeout_s=60)
    assert result.code == 0, result.err
    assert json.loads(result.out)["findings"] == []
    assert result.peak_rss <= PEAK_RSS_LIMIT


def test_begin_lines_through_lr_ci_bundle(tmp_path: Path) -> None:
    """``lr-ci bundle`` runs the same engine over built files: the bound holds there too."""
    assets = tmp_path / "dist" / "assets"
    assets.mkdir(parents=True)
    (assets / "index-Q1w2E3r4.js").write_bytes(b"-----BEGIN RSA PRIVATE KEY-----\n" * 62_500)
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    result = run_measured(["bundle", "--format", "json"], cwd=tmp_path, env=env, timeout_s=60)
    assert result.code in (0, 1), result.err
    findings = json.loads(result.out)["findings"]
    assert not [f for f in findings if f["rule"] == "private-key"]
    assert result.peak_rss <= PEAK_RSS_LIMIT
