"""No pattern can hang a scan (issue 17): a 5 MB minified line, and hostile inputs the per-rule ones miss.

``tests/test_hostile_engine.py`` gives every rule inputs made from its own keywords and examples, one rule
at a time. This file adds what a real file or an attacker puts together: a 5 MB single-line minified
script with keywords of many providers sprinkled through it (scanned by the engine, by ``lr-ci secrets``
on the file and by ``lr-ci secrets --history`` on a commit that adds it), every rule's keywords on one line
each followed by a long run of its own token alphabet, and unterminated values after ``password=`` and
its kin repeated 100,000 times.

The engine runs in a worker subprocess killed past a generous timeout, so a hang fails instead of
hanging the suite. What is asserted is the engine's work counter (``Hits.searched``: characters handed to
regexes) growing linearly with the input, and CPU time under a bound ten times what a linear engine
needs, never wall time.
"""

from __future__ import annotations

import json
import os
import random
import select
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from helpers.git import git
from helpers.hostile import PEAK_RSS_LIMIT, run_measured
from lr_ci.secret_rules.engine import default_rules, scan
from test_hostile_engine import CASE_CPU_S, SEPARATORS, _examples, _fill, _one_line, _Worker

RULES = default_rules().rules
MINIFIED_BYTES = 5 << 20
MINIFIED_TIMEOUT_S = 120.0
"""A 5 MB scan takes about a second of CPU; a hang is killed at this bound and fails the test."""
MINIFIED_CPU_S = 30.0
"""Generous: ten times what the 5 MB scans need with ~200 rules on a loaded machine."""
HOSTILE_BYTES = 1 << 20
REPEATS = 100_000
LINEAR_SLACK = 2.5
"""Doubling the input may at most multiply the engine's work by this (2 when exactly linear)."""
SPRINKLED = (
    "token", "key", "password", "secret", "eyJ", "AKIA", "ghp_", "apiKey", "auth", "Bearer ",
    "xoxb-", "sk_live_", "pwd", "://", "Basic ", "glpat-", "AIza", "hf_", "npm_", "-----BEGIN ",
)  # fmt: skip
_IDENTIFIER = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_$"
_VALUE = _IDENTIFIER + "0123456789+/=-."


def minified_script(size: int, seed: int = 17) -> str:
    """``size`` characters of one-line JavaScript as a minifier writes it: short identifiers, calls,
    object literals with quoted values, ``=`` and ``:``, and the keywords of :data:`SPRINKLED` (as
    names, prefixes of values, and assignments whose quote never closes). Deterministic."""
    rng = random.Random(seed)
    pieces: list[str] = []
    total = 0
    while total < size:
        name = "".join(rng.choice(_IDENTIFIER) for _ in range(rng.randint(1, 8)))
        word = rng.choice(SPRINKLED)
        value = "".join(rng.choice(_VALUE) for _ in range(rng.randint(0, 48)))
        kind = rng.random()
        if kind < 0.15:
            piece = f'{name}{word}:"{value}",'
        elif kind < 0.3:
            piece = f"var {name}={word}{value};"
        elif kind < 0.4:
            piece = f"{word}=" + rng.choice(['"', "'", "`", ""])
        elif kind < 0.5:
            piece = f"function {name}(a,b){{return a.{word.strip()}===b[{rng.randint(0, 9)}]}}"
        else:
            piece = f"{name}.{name}({name},{rng.randint(0, 999)});"
        pieces.append(piece)
        total += len(piece)
    return "".join(pieces)[:size]


def _breaks_line(keyword: str) -> bool:
    """A keyword that holds a line break (YAML's ``: |`` then the block) cannot be on one line."""
    return "\n" in keyword or "\r" in keyword


def _alphabet_after_every_keyword(size: int) -> str:
    """One line: every keyword of every rule (but those that hold a line break), each followed by a run of its rule's token alphabet twice
    as long as the rule's longest match (at most 4 KB), with a separator after the run."""
    units = []
    for rule in RULES:
        secret = next((s for _, s in _examples(rule)), "a")
        alphabet = "".join(sorted(set(secret) - set("\r\n"))) or "a"  # a PEM body's too, on one line
        run = _fill(alphabet, min(2 * rule.max_width, 4096))
        units += [
            f"{keyword}{run}{SEPARATORS[i % len(SEPARATORS)]}"
            for i, keyword in enumerate(rule.keywords)
            if not _breaks_line(keyword)
        ]
    return _one_line(_fill("".join(units), size), size)


_UNTERMINATED = {
    "password-double-quote": 'password="',
    "password-single-quote": "password='",
    "password-backtick": "PASSWORD=`",
    "json-password": '"password": "',
    "yaml-secret": "secret: '",
    "xml-password": "<password>",
    "cli-password": '--password "',
    "escaped-quote": 'api_key="\\"',
    "url-userinfo": "https://deploy:",
    "basic-header": "Authorization: Basic ",
    "bearer-header": "Authorization: Bearer ",
    "jwt-dots": "eyJhbGciOi.",
    "curl-user": "curl -u admin:",
}
"""An opening without its end, each repeated :data:`REPEATS` times on one line."""

_RUNS = {
    "password-spaces": ("password", " "),
    "password-equals": ("password", "="),
    "token-colons": ("token", ":"),
    "secret-quotes": ("secret=", '"'),
    "key-backslashes": ('api_key="', "\\"),
}
"""A keyword followed by one character repeated to the end of the line."""


def hostile_inputs(size: int) -> dict[str, Callable[[], str]]:
    """Named inputs of about ``size`` characters (built when called: some are megabytes)."""
    cases: dict[str, Callable[[], str]] = {
        "alphabet-after-every-keyword": partial(_alphabet_after_every_keyword, size),
    }
    for name, opening in _UNTERMINATED.items():
        cases[f"unterminated-{name}"] = partial(_repeated, opening, size)
    for name, (keyword, char) in _RUNS.items():
        cases[f"run-{name}"] = partial(_keyword_run, keyword, char, size)
    return cases


def _repeated(opening: str, size: int) -> str:
    return _one_line(opening * max(1, size // len(opening)), size)


def _keyword_run(keyword: str, char: str, size: int) -> str:
    return _one_line(keyword + char * size, size)


def _inputs(case: str, size: int) -> tuple[str, str]:
    """(path, text) of a named case."""
    if case == "minified":
        return "app.min.js", minified_script(size)
    if case == "minified-with-newlines":  # defeats the minified-line guard: the generic rules run too
        return "config.js", _one_line(minified_script(size), size)
    return "settings.cfg", hostile_inputs(size)[case]()


def _worker_main() -> None:
    """The worker loop: one request a line (``- case size``), one JSON answer a line."""
    for request in sys.stdin:
        _, case, size = request.split()
        path, text = _inputs(case, int(size))
        data = text.encode("utf-8", "surrogateescape")
        started = time.process_time()
        hits = scan(data, path)
        answer = {
            "seconds": time.process_time() - started,
            "hits": len(hits),
            "dropped": hits.dropped,
            "searched": hits.searched,
            "bytes": len(data),
        }
        print(json.dumps(answer), flush=True)


class _ScaleWorker(_Worker):
    """test_hostile_engine's worker, running this module's inputs, with a timeout per request."""

    def _start(self) -> subprocess.Popen[str]:
        here = Path(__file__).resolve().parent
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(here), str(here.parent / "src")])}
        code = "import test_secret_scale as t; t._worker_main()"
        return subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )

    def measure(self, case: str, size: int, timeout_s: float) -> dict[str, float]:
        if self.process is None or self.process.poll() is not None:
            self.process = self._start()
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"- {case} {size}\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], timeout_s)
        if not ready:
            self.close()
            raise AssertionError(f"{case} at {size} bytes: not done within {timeout_s} s (a hang)")
        line = self.process.stdout.readline()
        assert line, f"{case}: the worker died"
        answer: dict[str, float] = json.loads(line)
        return answer


@pytest.fixture(scope="module")
def worker() -> Iterator[_ScaleWorker]:
    started = _ScaleWorker()
    yield started
    started.close()


def test_minified_script_is_one_line_with_the_keywords() -> None:
    text = minified_script(64 << 10)
    assert len(text) == 64 << 10 and "\n" not in text
    for word in ("token", "password", "eyJ", "AKIA", "ghp_", 'password="'):
        assert word in text


@pytest.mark.parametrize("case", ["minified", "minified-with-newlines"])
def test_a_5mb_minified_line_costs_work_linear_in_its_size(case: str, worker: _ScaleWorker) -> None:
    half = worker.measure(case, MINIFIED_BYTES // 2, MINIFIED_TIMEOUT_S)
    whole = worker.measure(case, MINIFIED_BYTES, MINIFIED_TIMEOUT_S)
    assert whole["bytes"] >= MINIFIED_BYTES
    assert whole["searched"] <= LINEAR_SLACK * max(half["searched"], half["bytes"]), (half, whole)
    assert whole["seconds"] < MINIFIED_CPU_S, whole


@pytest.mark.parametrize("case", sorted(hostile_inputs(1)))
def test_hostile_input_costs_work_linear_in_its_size(case: str, worker: _ScaleWorker) -> None:
    small = worker.measure(case, HOSTILE_BYTES // 2, MINIFIED_TIMEOUT_S)
    large = worker.measure(case, HOSTILE_BYTES, MINIFIED_TIMEOUT_S)
    assert large["searched"] <= LINEAR_SLACK * max(small["searched"], small["bytes"]), (small, large)
    assert large["seconds"] < CASE_CPU_S * HOSTILE_BYTES / (128 << 10), large


def test_unterminated_openings_are_repeated_100k_times() -> None:
    for name, opening in _UNTERMINATED.items():
        text = hostile_inputs(len(opening) * REPEATS)[f"unterminated-{name}"]()
        assert text.count(opening) >= REPEATS, name


def test_every_keyword_of_every_rule_is_on_the_alphabet_line() -> None:
    line = hostile_inputs(HOSTILE_BYTES)["alphabet-after-every-keyword"]().split("\n", 1)[0]
    lowered = line.lower()
    missing = [k for rule in RULES for k in rule.keywords if k not in lowered and not _breaks_line(k)]
    assert missing == []


def test_a_secret_inside_the_5mb_line_is_still_found() -> None:
    """The bounds cut work, not findings: a token in the middle of the minified line is reported."""
    token = "ghp_u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8d"
    half = minified_script(MINIFIED_BYTES // 2)
    found = [
        (hit.rule.id, hit.secret) for hit in scan(f'{half};var t="{token}";{half}'.encode(), "app.min.js")
    ]
    assert ("github-token", token) in found


@pytest.fixture(scope="module")
def minified_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("minified")
    (folder / "app.min.js").write_text(minified_script(MINIFIED_BYTES))
    (folder / "config.js").write_text(_one_line(minified_script(MINIFIED_BYTES, seed=3), MINIFIED_BYTES))
    return folder


@pytest.mark.parametrize("name", ["app.min.js", "config.js"])
def test_lr_ci_secrets_on_a_5mb_minified_file_finishes_bounded(minified_file: Path, name: str) -> None:
    result = run_measured(
        ["secrets", "--format", "json", name], cwd=minified_file, timeout_s=MINIFIED_TIMEOUT_S
    )
    assert result.code in (0, 1), result.err
    assert "Traceback" not in result.err
    report = json.loads(result.out)
    assert report["metrics"]["bytes_scanned"] >= MINIFIED_BYTES
    assert result.peak_rss <= PEAK_RSS_LIMIT, result.peak_rss


def test_lr_ci_secrets_history_on_a_commit_adding_a_5mb_minified_file(
    minified_file: Path, tmp_path: Path
) -> None:
    """Larger than git's diff limit here (``BLOB_STREAM_BYTES``): the blob is streamed, in bounded time."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "dist").mkdir()
    for name in ("app.min.js", "config.js"):
        (repo / "dist" / name).write_bytes((minified_file / name).read_bytes())
    git(repo, "add", "dist")
    git(repo, "commit", "-q", "-m", "build")
    result = run_measured(
        ["secrets", "--format", "json", "--history"], cwd=repo, timeout_s=MINIFIED_TIMEOUT_S
    )
    assert result.code in (0, 1), result.err
    report = json.loads(result.out)
    assert report["metrics"]["commits_scanned"] == 1
    assert report["metrics"]["bytes_scanned"] >= 2 * MINIFIED_BYTES
    assert result.peak_rss <= PEAK_RSS_LIMIT, result.peak_rss


# -- the history scan's short road to the engine ---------------------------------------------------------


def _both_roads(text: bytes, path: str = "settings.cfg") -> list[tuple[str, object, object]]:
    """What ``ContentScanner.scan_text`` and ``ContentScanner.stream`` report for ``text``: hits, counts
    and unread files, side by side."""
    from lr_ci.checks.secrets.scan import ContentScanner
    from lr_ci.secret_rules.engine import Hit

    results = []
    for road in ("scan_text", "stream"):
        scanner = ContentScanner(default_rules(), 1 << 30, lambda _path: False)
        found: list[Hit] = []
        if road == "scan_text":
            scanner.scan_text(text, path, found.extend)
        else:
            scanner.stream([text], path, found.extend)
        results.append(
            ([(h.rule.id, h.secret, h.line, h.column) for h in found], scanner.counts, scanner.unread)
        )
    return [
        (name, one, other) for name, one, other in zip(("hits", "counts", "unread"), *results, strict=True)
    ]


@pytest.mark.parametrize(
    "text",
    [
        b"",
        b"no keyword on this line\nnor on this one",
        b"token = ghp_u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8d\nDB_PASSWORD=Xk9mP2vLq7Rt\n",
        b"x = 1\n" * 2000 + b"aws_access_key_id = AKIAZ7Q3WX5KD2LMNB4R\n",  # past the keyword-only search
        b"\xff\xfet\x00o\x00k\x00e\x00n\x00=\x00A\x00",  # a byte-order mark: decoded on the long road
        b"pass\x00word=Xk9mP2vLq7Rt\x00t\x00o\x00k\x00e\x00n\x00",  # NUL bytes: the long road
        "clé = 'ghp_u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8d' # é\n".encode(),
        b"password='" + b"x" * 10 + b"'\n" + b"a" * ((1 << 20) + 10),  # more than one window
    ],
    ids=["empty", "no-keyword", "hits", "long", "bom", "nul", "non-ascii", "windows"],
)
def test_the_short_road_reports_what_the_long_road_reports(text: bytes) -> None:
    for name, short, long in _both_roads(text):
        assert short == long, name


def test_the_short_road_names_a_text_with_too_many_hits_as_unread() -> None:
    text = b"".join(f"db_password = 'Xk9mP2vLq{i:07d}'\n".encode() for i in range(1_100))
    for name, short, long in _both_roads(text):
        assert short == long, name
    ((_, _, unread),) = [row for row in _both_roads(text) if row[0] == "unread"]
    assert unread and "possible secrets in one window" in str(unread)


# -- the history's logs, started by a thread while lr-ci loads its rules ----------------------------------


def test_a_failure_while_preparing_the_logs_is_raised_where_they_are_read(tmp_path: Path) -> None:
    from lr_ci.checks.secrets.git import Patches
    from lr_ci.errors import LrCiError

    def prepare() -> tuple[list[tuple[list[str], bytes | None]], list[Any], Any]:
        raise LrCiError("git log failed: fatal: bad object")

    patches = Patches(tmp_path, [], "log", prepare=prepare)
    with pytest.raises(LrCiError, match="bad object"):
        list(patches)
    assert patches.close() == (0, "")


def test_closing_before_reading_stops_the_logs_the_thread_started(tmp_path: Path) -> None:
    from lr_ci.checks.secrets.git import Patches, PatchStats

    def prepare() -> tuple[list[tuple[list[str], bytes | None]], list[Any], PatchStats]:
        return [([sys.executable, "-c", "import time; time.sleep(60)"], None)], [], PatchStats()

    patches = Patches(tmp_path, [], "log", prepare=prepare)
    patches.close()  # e.g. the config was invalid: exit 2 before the scan
    assert all(process.poll() is not None for process, _, _ in patches._parts.values())
