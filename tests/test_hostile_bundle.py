"""Issue 11 against ``lr-ci bundle``: huge built files, a bad ``hash_pattern``, a baseline of wrong types.

Each input runs lr-ci in a bounded subprocess (tests/helpers/hostile.py) and asserts the exit code, one clear line,
no secret in any output format and, for the huge file, the 256 MB peak of the whole process tree.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

from helpers.hostile import (
    MIB,
    PEAK_RSS_LIMIT,
    Measured,
    all_format_outputs,
    assert_one_clear_line,
    run_measured,
)
from lr_ci.checks.bundle.check import MAX_BASELINE_BYTES, SCAN_WINDOW_BYTES
from lr_ci.checks.bundle.sizes import brotli_size, compressed_sizes, gzip_size
from lr_ci.secret_rules.windows import OVERLAP_BYTES as SCAN_OVERLAP_BYTES

# A GitHub token of the documented shape, split so this file does not trip the scanners.
TOKEN = "ghp_" + "Zq8Rt2Lm5Vx7Bn4Kc9Pw1Hd6Jf3Gs02TwKdN"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    (path / "dist").mkdir(parents=True)
    return path


def env_for(tmp_path: Path) -> dict[str, str]:
    return {"XDG_CACHE_HOME": str(tmp_path / "cache"), "NO_COLOR": "1"}


def bundle_json(project: Path, tmp_path: Path, timeout_s: float) -> Measured:
    """``lr-ci bundle --format json`` in ``project``, measured, every format written beside."""
    return run_measured(
        ["bundle", "--format", "json"],
        cwd=project,
        env=env_for(tmp_path),
        timeout_s=timeout_s,
        outputs=all_format_outputs(tmp_path),
    )


def write_large(path: Path, size: int, *, secrets_at: tuple[int, ...] = ()) -> None:
    """``size`` bytes of minified-looking lines, written 1 MiB at a time: a 4 kB random line repeated, so
    that level-9 deflate runs fast (long matches) and the test takes seconds, not minutes."""
    line = random.Random(11).randbytes(2048).hex().encode() + b";\n"
    block = (line * (MIB // len(line) + 1))[:MIB]
    with path.open("wb") as handle:
        written = 0
        while written < size:
            piece = bytes(block[: min(MIB, size - written)])
            for secret_at in secrets_at:
                if written <= secret_at < written + len(piece):
                    at = secret_at - written
                    line = f'\nconst t="{TOKEN}";\n'.encode()
                    piece = piece[:at] + line + piece[at + len(line) :]
            handle.write(piece)
            written += len(piece)


def test_a_320_mb_file_is_measured_and_scanned_within_256_mb(project: Path, tmp_path: Path) -> None:
    """Two secrets: across the end of the first scanning window, and where the second one starts. Each
    is found once, whole, at its real line and column."""
    big = project / "dist" / "vendor.js"
    size = 320 * MIB
    write_large(big, size, secrets_at=(SCAN_WINDOW_BYTES - SCAN_OVERLAP_BYTES - 20, SCAN_WINDOW_BYTES - 20))
    (project / "lr-ci.toml").write_text(
        '[bundle]\n[[bundle.budgets]]\nfiles = "*.js"\nlimit = "1 kB"\n'
        '[[bundle.budgets]]\nfiles = "*.js"\nname = "br"\nlimit = "1 kB"\ncompression = "brotli"\n'
    )
    result = bundle_json(project, tmp_path, timeout_s=120)
    assert result.code == 1, result.err
    assert result.peak_rss <= PEAK_RSS_LIMIT, f"peak {result.peak_rss / MIB:.0f} MiB"
    report = json.loads(result.out)
    assert report["metrics"]["total"]["none"] == size
    rules = [f["rule"] for f in report["findings"]]
    assert rules.count("github-token") == 2 and rules.count("bundle-budget") == 2
    assert "bundle-brotli-estimate" in rules
    secrets = [f["location"] for f in report["findings"] if f["rule"] == "github-token"]
    with big.open("rb") as handle:
        head = handle.read(SCAN_WINDOW_BYTES + 100)
    first = head.index(TOKEN.encode())
    offsets = [first, head.index(TOKEN.encode(), first + 1)]
    where = [(head.count(b"\n", 0, at) + 1, at - head.rfind(b"\n", 0, at)) for at in offsets]
    assert sorted((s["line"], s["column"]) for s in secrets) == where
    assert TOKEN not in result.everything


def test_streamed_sizes_equal_the_one_shot_sizes() -> None:
    """Compressing chunk by chunk gives the bytes compressing at once gives (what the reference tools
    are compared with in test_bundle.py), across chunk boundaries."""
    import zlib

    import brotli

    rng = random.Random(5)
    words = [rng.randbytes(rng.randint(1, 6)).hex() for _ in range(400)]
    data = " ".join(rng.choice(words) for _ in range(40_000)).encode()[:200_017]
    step = 65_536  # like CHUNK_BYTES, smaller: the same boundaries in a fraction of the time
    chunks = [data[i : i + step] for i in range(0, len(data), step)]
    streamed = compressed_sizes(chunks, len(data), ["gzip", "brotli"])
    one_shot = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS, 9)
    assert streamed["gzip"] == gzip_size(data) == 18 + len(one_shot.compress(data) + one_shot.flush())
    assert streamed["brotli"] == brotli_size(data) == len(brotli.compress(data, quality=11, lgwin=22))


@pytest.mark.parametrize("pattern", ["[unclosed", "(?P<x>a)(?P<x>b)", "a{2,1}", "*"])
def test_a_hash_pattern_that_is_not_a_regex_is_exit_2_at_its_line(
    project: Path, tmp_path: Path, pattern: str
) -> None:
    (project / "dist" / "app.js").write_text("let a = 1;\n")
    (project / "lr-ci.toml").write_text(f"[bundle]\nmax_growth = 0.2\nhash_pattern = '{pattern}'\n")
    result = run_measured(["bundle"], cwd=project, env=env_for(tmp_path), timeout_s=30)
    assert result.code == 2
    assert_one_clear_line(
        result, mentions=["lr-ci.toml:3", "bundle.hash_pattern", "not a regular expression"]
    )


@pytest.mark.parametrize(
    ("files", "field"),
    [
        ({"app.js": {"raw": True, "gzip": 10}}, "files.app.js.raw"),
        ({"app.js": {"raw": "120", "gzip": 10}}, "files.app.js.raw"),
        ({"app.js": {"raw": 120, "gzip": 10.5}}, "files.app.js.gzip"),
        ({"app.js": {"gzip": 10}}, "files.app.js.raw"),
        ({"app.js": [120]}, "files.app.js"),
        ({"app.js": {"raw": -5}}, "files.app.js.raw"),
        ([1, 2], "files"),
    ],
)
def test_a_baseline_with_wrong_types_is_exit_2_naming_the_field(
    project: Path, tmp_path: Path, files: object, field: str
) -> None:
    (project / "dist" / "app.js").write_text("let a = 1;\n")
    baseline = tmp_path / "sizes.json"
    baseline.write_text(json.dumps({"schema": "lr-ci.bundle-sizes/1", "files": files}))
    result = run_measured(
        ["bundle", "--baseline", str(baseline), "--format", "json"],
        cwd=project,
        env=env_for(tmp_path),
        timeout_s=30,
        outputs=all_format_outputs(tmp_path),
    )
    assert result.code == 2
    assert_one_clear_line(result, mentions=["sizes.json", field])
    assert json.loads(result.out)["status"] == "error"


def test_an_endless_baseline_is_exit_2_within_the_bound(project: Path, tmp_path: Path) -> None:
    (project / "dist" / "app.js").write_text("let a = 1;\n")
    result = run_measured(
        ["bundle", "--baseline", "/dev/zero"], cwd=project, env=env_for(tmp_path), timeout_s=30
    )
    assert result.code == 2
    assert_one_clear_line(result, mentions=["/dev/zero"])
    assert result.peak_rss <= PEAK_RSS_LIMIT


def test_a_fifo_as_baseline_does_not_hang(project: Path, tmp_path: Path) -> None:
    (project / "dist" / "app.js").write_text("let a = 1;\n")
    fifo = tmp_path / "sizes.fifo"
    os.mkfifo(fifo)
    result = run_measured(
        ["bundle", "--baseline", str(fifo)], cwd=project, env=env_for(tmp_path), timeout_s=30
    )
    assert result.code == 2
    assert_one_clear_line(result, mentions=["sizes.fifo", "not a regular file"])


def baseline_of(entries: int) -> str:
    files = ", ".join(f'"assets/f{i}.js": {{"raw": 1, "gzip": 1}}' for i in range(entries))
    return '{"schema": "lr-ci.bundle-sizes/1", "files": {' + files + "}}"


def test_a_baseline_over_its_size_limit_is_refused_before_parsing(project: Path, tmp_path: Path) -> None:
    (project / "dist" / "app.js").write_text("let a = 1;\n")
    baseline = tmp_path / "sizes.json"
    baseline.write_text(baseline_of(MAX_BASELINE_BYTES // 40 + 1000))
    result = run_measured(
        ["bundle", "--baseline", str(baseline)], cwd=project, env=env_for(tmp_path), timeout_s=30
    )
    assert result.code == 2
    assert_one_clear_line(result, mentions=["sizes.json", f"larger than {MAX_BASELINE_BYTES >> 20} MiB"])
    assert result.peak_rss <= PEAK_RSS_LIMIT and result.seconds < 10


def test_the_largest_baseline_allowed_stays_within_the_bound(project: Path, tmp_path: Path) -> None:
    """Parsed and validated, a baseline takes about 20 times its size: the limit keeps that under 256 MB."""
    (project / "dist" / "app.js").write_text("let a = 1;\n")
    baseline = tmp_path / "sizes.json"
    entries = MAX_BASELINE_BYTES // 43  # each entry is 41-45 bytes
    text = baseline_of(entries)
    while len(text) > MAX_BASELINE_BYTES:
        entries -= 1000
        text = baseline_of(entries)
    baseline.write_text(text)
    result = run_measured(
        ["bundle", "--baseline", str(baseline), "--format", "json"],
        cwd=project,
        env=env_for(tmp_path),
        timeout_s=60,
    )
    assert result.code == 0, result.err
    assert len(json.loads(result.out)["metrics"]["removed_files"]) == entries
    assert result.peak_rss <= PEAK_RSS_LIMIT, f"peak {result.peak_rss / MIB:.0f} MiB"


def test_an_unreadable_built_file_is_exit_2_naming_it(project: Path, tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    locked = project / "dist" / "locked.js"
    locked.write_text("let a = 1;\n")
    locked.chmod(0)
    result = run_measured(["bundle"], cwd=project, env=env_for(tmp_path), timeout_s=30)
    assert result.code == 2
    assert_one_clear_line(result, mentions=["locked.js", "cannot read"])


@pytest.mark.parametrize(
    "content",
    [
        "[" * 200_000 + "]" * 200_000,  # nested past the JSON parser's recursion
        '["sourcesContent"]',
        '{"sources": 3, "sourcesContent": {"a": 1}}',
        '{"sources": ["a.ts"], "sourcesContent": "not a list"}',
    ],
)
def test_a_broken_source_map_is_scanned_as_text(project: Path, tmp_path: Path, content: str) -> None:
    (project / "dist" / "app.js.map").write_text(content + f'\nconst t="{TOKEN}";\n')
    result = bundle_json(project, tmp_path, timeout_s=30)
    assert result.code == 1, result.err
    assert [f["rule"] for f in json.loads(result.out)["findings"]] == ["bundle-source-map", "github-token"]
    assert TOKEN not in result.everything


# Round 3: links, a build that is not one, a backtracking hash_pattern, names that are not UTF-8.


def test_a_link_to_a_file_with_a_secret_is_measured_and_scanned(project: Path, tmp_path: Path) -> None:
    """A deploy ships what a link points to: skipping links let a secret (and its bytes) pass unseen."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "config.js").write_text(f'const t="{TOKEN}";\n')
    (project / "dist" / "app.js").write_text("let a = 1;\n")
    (project / "dist" / "config.js").symlink_to(outside / "config.js")
    (project / "dist" / "vendor").symlink_to(outside, target_is_directory=True)
    result = bundle_json(project, tmp_path, timeout_s=30)
    assert result.code == 1, result.err
    report = json.loads(result.out)
    assert report["metrics"]["files"] == 3
    paths = sorted(f["location"]["path"] for f in report["findings"] if f["rule"] == "github-token")
    assert paths == ["config.js", "vendor/config.js"]
    assert TOKEN not in result.everything


def test_a_link_loop_in_the_build_is_walked_once(project: Path, tmp_path: Path) -> None:
    (project / "dist" / "app.js").write_text("let a = 1;\n")
    (project / "dist" / "again").symlink_to(project / "dist", target_is_directory=True)
    (project / "dist" / "dangling.js").symlink_to(tmp_path / "gone.js")
    result = run_measured(["bundle", "--format", "json"], cwd=project, env=env_for(tmp_path), timeout_s=30)
    assert result.code == 0, result.err
    assert json.loads(result.out)["metrics"]["files"] == 1


def test_a_build_folder_that_is_not_a_build_is_exit_2_at_once(project: Path, tmp_path: Path) -> None:
    """``dist -> /usr`` was walked, hashed and compressed for minutes; past the entry limit it is exit 2."""
    from lr_ci.checks.bundle.measure import MAX_BUILD_ENTRIES

    crowd = tmp_path / "crowd"
    crowd.mkdir()
    for index in range(MAX_BUILD_ENTRIES + 1):
        os.close(os.open(crowd / f"{index}.js", os.O_CREAT | os.O_WRONLY, 0o644))
    (project / "dist").rmdir()
    (project / "dist").symlink_to(crowd, target_is_directory=True)
    result = run_measured(["bundle"], cwd=project, env=env_for(tmp_path), timeout_s=30)
    assert result.code == 2
    assert_one_clear_line(result, mentions=["dist", f"more than {MAX_BUILD_ENTRIES} files and folders"])
    assert result.seconds < 15


def test_a_backtracking_hash_pattern_is_stopped_and_named(project: Path, tmp_path: Path) -> None:
    """``(a+)+$`` on a 40-character name would run for days: the pattern gets its time, then exit 2."""
    from lr_ci.checks.bundle.sizes import HASH_PATTERN_BUDGET_S

    (project / "dist" / ("a" * 40 + "!.js")).write_text("let a = 1;\n")
    (project / "lr-ci.toml").write_text("[bundle]\nhash_pattern = '(a+)+$'\n")
    result = bundle_json(project, tmp_path, timeout_s=30)
    assert result.code == 2
    assert_one_clear_line(result, mentions=["lr-ci.toml:2", "bundle.hash_pattern", "took more than"])
    assert json.loads(result.out)["status"] == "error"
    assert result.seconds < HASH_PATTERN_BUDGET_S + 10


def test_a_name_that_is_not_utf8_is_saved_and_compared(project: Path, tmp_path: Path) -> None:
    """``--save-baseline`` was an internal error (and an empty baseline) on a name with a stray byte."""
    name = os.fsencode(project / "dist") + b"/caf\xe9\n\x1b[31m.js"
    with open(name, "wb") as handle:
        handle.write(b"let a = 1;\n")
    baseline = tmp_path / "sizes.json"
    saved = run_measured(
        ["bundle", "--save-baseline", str(baseline)], cwd=project, env=env_for(tmp_path), timeout_s=30
    )
    assert saved.code == 0, saved.err
    stable = json.loads(baseline.read_text(encoding="utf-8"))["files"]
    assert "caf\\xe9\\n\\x1b[31m.js" in stable
    compared = run_measured(
        ["bundle", "--baseline", str(baseline)], cwd=project, env=env_for(tmp_path), timeout_s=30
    )
    assert compared.code == 0, compared.err
    assert "\x1b" not in compared.out
    assert "caf\\xe9\\n\\x1b[31m.js" in compared.out


def test_budget_globs_that_would_backtrack_finish_at_once(project: Path, tmp_path: Path) -> None:
    """As regexes these globs never finished on a deep path or a long name (the secret scanner's
    ``exclude`` shares the matcher); matched by component, they take milliseconds."""
    deep = project / "dist" / "/".join(["a"] * 40)
    deep.mkdir(parents=True)
    (deep / "x.css").write_text("a{}\n")
    (project / "dist" / ("a" * 60 + ".js")).write_text("let a = 1;\n")
    patterns = ["**/" * 12 + "*.js", "*a" * 12 + "*b", "a/**/**/a/**/a/**/*.css"]
    budgets = "".join(f'[[bundle.budgets]]\nname = "g{i}"\nfiles = "{p}"\n' for i, p in enumerate(patterns))
    (project / "lr-ci.toml").write_text(budgets)
    result = run_measured(["bundle", "--format", "json"], cwd=project, env=env_for(tmp_path), timeout_s=30)
    assert result.code == 0, result.err
    groups = json.loads(result.out)["metrics"]["groups"]
    assert [groups[f"g{i}"]["files"] for i in range(3)] == [1, 0, 1]
    assert result.seconds < 10


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ('[bundle]\nmin_change = "' + "1" * 400 + ' kB"\n', "bundle.min_change"),
        ('[[bundle.budgets]]\nfiles = "*.js"\nlimit = "' + "9" * 5000 + '.5 B"\n', "bundle.budgets"),
    ],
    ids=["min_change", "budget limit"],
)
def test_a_size_too_large_for_a_float_is_exit_2_at_its_line(
    project: Path, tmp_path: Path, config: str, key: str
) -> None:
    """400 digits are an infinity that crashed the rounding (an internal error)."""
    (project / "dist" / "app.js").write_text("let a = 1;\n")
    (project / "lr-ci.toml").write_text(config)
    result = run_measured(["bundle"], cwd=project, env=env_for(tmp_path), timeout_s=30)
    assert result.code == 2
    assert_one_clear_line(result, mentions=["lr-ci.toml:", key, "is not a size"])


def test_a_source_map_of_many_secret_sources_is_listed_within_the_bound(
    project: Path, tmp_path: Path
) -> None:
    """100,000 sources each holding a token (6 MB) made 100,000 findings: 1.2 GB and 24 s to write out."""
    from lr_ci.checks.bundle.check import MAX_LISTED_FINDINGS

    count = 20_000
    source_map = {
        "version": 3,
        "sources": [f"src/s{i}.js" for i in range(count)],
        "sourcesContent": [f'const t="{TOKEN}";' for _ in range(count)],
        "mappings": "",
    }
    (project / "dist" / "app.js.map").write_text(json.dumps(source_map))
    result = bundle_json(project, tmp_path, timeout_s=60)
    assert result.code == 1, result.err
    findings = json.loads(result.out)["findings"]
    secrets = [f for f in findings if f["rule"] == "github-token"]
    # The secrets past the first 1,000 are counted per rule; then the whole report lists at most 1,000
    # findings, the most severe first, and counts the rest in one more.
    assert MAX_LISTED_FINDINGS - 10 <= len(secrets) <= MAX_LISTED_FINDINGS
    assert len(findings) <= MAX_LISTED_FINDINGS + 1
    assert findings[-1]["rule"] == "bundle-unlisted"
    assert "more findings are not listed" in findings[-1]["message"]
    assert result.peak_rss <= PEAK_RSS_LIMIT
    assert TOKEN not in result.everything


@pytest.mark.parametrize("kind", ["FIFO", "link"])
def test_save_baseline_neither_hangs_nor_follows_a_link(project: Path, tmp_path: Path, kind: str) -> None:
    """A FIFO nobody reads hung the run; a link put there by the repository chose what was overwritten."""
    (project / "dist" / "app.js").write_text("let a = 1;\n")
    target, victim = project / "sizes.json", tmp_path / "victim"
    if kind == "FIFO":
        os.mkfifo(target)
    else:
        victim.write_text("precious\n")
        target.symlink_to(victim)
    result = run_measured(
        ["bundle", "--save-baseline", "sizes.json"], cwd=project, env=env_for(tmp_path), timeout_s=20
    )
    assert result.code == 2
    assert_one_clear_line(result, mentions=["--save-baseline sizes.json", "cannot write"])
    if kind == "link":
        assert victim.read_text() == "precious\n"
