"""Issue 14: stable names for every bundler's hash format (``lr_ci.checks.bundle.names``).

Every documented format's examples, every rule's examples, and properties with hypothesis: a random hash
of each format's alphabet and lengths always normalises, to a name that does not depend on the hash; no two
files of one build share a stable name. End to end, the issue's Vite case (``Dashboard-5Fva3MBD.js`` then
``Dashboard-FXkx-rrs.js``) is measured as grown, and the JSON report has every file's sizes.
"""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from helpers.cli import Cli
from lr_ci.checks.bundle.names import (
    BUILD_PLACEHOLDER,
    FORMATS,
    HASH_PLACEHOLDER,
    RULES,
    HashFormat,
    distinct_stable_names,
    normalise,
)
from lr_ci.checks.bundle.sizes import stable_name

FORMAT_IDS = [f.id for f in FORMATS]
DIRS = st.sampled_from(["", "assets/", "static/chunks/", "static/js/", "dist/app/"])
EXTENSIONS = st.sampled_from([".js", ".css", ".mjs", ".js.map", ".css.map", ".svg", ".woff2", ".js.gz"])
NAME = st.text(alphabet=string.ascii_letters + string.digits + "_-", min_size=1, max_size=16)
"""Chunk and asset names as bundlers write them ([name]): no dots, no slashes."""
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def hashes(fmt: HashFormat) -> st.SearchStrategy[str]:
    return st.sampled_from(fmt.lengths).flatmap(
        lambda n: st.text(alphabet=fmt.alphabet, min_size=n, max_size=n)
    )


def built(fmt: HashFormat, folder: str, name: str, digest: str, ext: str) -> tuple[str, str]:
    """A file name in ``fmt`` and the stable name it must have."""
    if fmt.separator == "/":
        return f"{folder}{digest}/_buildManifest.js", f"{folder}{BUILD_PLACEHOLDER}/_buildManifest.js"
    if fmt.separator == "":
        return f"{folder}{digest}{ext}", f"{folder}{HASH_PLACEHOLDER}{ext}"
    return f"{folder}{name}{fmt.separator}{digest}{ext}", f"{folder}{name}{ext}"


# -- the documented formats and the rules, from their own examples ------------------------------------


@pytest.mark.parametrize(
    ("fmt", "path", "stable"), [(f, path, stable) for f in FORMATS for path, stable in f.examples]
)
def test_every_documented_example_normalises(fmt: HashFormat, path: str, stable: str) -> None:
    assert normalise(path) == stable, fmt.id
    assert stable_name(path) == stable


@pytest.mark.parametrize(
    ("rule_id", "path", "stable"), [(r.id, path, stable) for r in RULES for path, stable in r.examples]
)
def test_every_rule_example(rule_id: str, path: str, stable: str) -> None:
    rule = next(r for r in RULES if r.id == rule_id)
    if rule.id == "next-build-id":
        assert rule.pattern.sub(rule.replacement, "/" + path)[1:] == stable
    else:
        folder, slash, base = path.rpartition("/")
        assert folder + slash + rule.pattern.sub(rule.replacement, base) == stable


@pytest.mark.parametrize("fmt", FORMATS, ids=FORMAT_IDS)
def test_every_format_documents_itself(fmt: HashFormat) -> None:
    assert fmt.examples and fmt.documented and fmt.template and fmt.lengths
    for path, _ in fmt.examples:
        assert normalise(path) != path, f"{fmt.id}: {path} is not an example of a hashed name"


@pytest.mark.parametrize(
    "path",
    [
        "index.html",
        "favicon.ico",
        "robots.txt",
        "my-component.js",
        "date-fns.js",
        "jquery.min.js",
        "787.js",
        "_buildManifest.js",
        "fonts/roboto-v30-latin.woff2",
        "static/js/runtime-main.js",
        ".well-known/security.txt",
    ],
)
def test_names_without_a_hash_stay_as_they_are(path: str) -> None:
    assert normalise(path) == path


def test_the_issue_case_one_chunk_two_builds() -> None:
    """Vite 8 named the chunk Dashboard-5Fva3MBD.js, then Dashboard-FXkx-rrs.js: one stable name."""
    assert stable_name("assets/Dashboard-5Fva3MBD.js") == stable_name("assets/Dashboard-FXkx-rrs.js")
    assert stable_name("assets/Dashboard-FXkx-rrs.js") == "assets/Dashboard.js"


@pytest.mark.parametrize(
    ("path", "stable"),
    [
        ("assets/index--abc_def.js", "assets/index.js"),  # a hash that starts with '-'
        ("assets/index-abc_def-.js", "assets/index.js"),  # ... or ends with it
        ("assets/index-________.js", "assets/index.js"),
        ("assets/index-abcdefgh.js", "assets/index.js"),  # no digit, one case: a hash all the same
        ("assets/index-ABCDEFGH.css", "assets/index.css"),
        ("static/js/main.abcdefab.js", "static/js/main.js"),  # hex without a digit
        ("static/js/main.12345678.js", "static/js/main.js"),  # hex without a letter
    ],
)
def test_hashes_that_look_like_words_or_numbers_still_normalise(path: str, stable: str) -> None:
    assert normalise(path) == stable


def test_a_custom_hash_pattern_is_removed_first() -> None:
    assert stable_name("app~v1a2b.js", "~v[0-9a-z]+") == "app.js"
    assert stable_name("assets/app-BxQ2_9kd~v1a2b.js", "~v[0-9a-z]+") == "assets/app.js"


# -- properties ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS, ids=FORMAT_IDS)
@PROPERTY
@given(data=st.data())
def test_random_hashes_of_every_format_always_normalise(fmt: HashFormat, data: st.DataObject) -> None:
    folder, name, ext = data.draw(DIRS), data.draw(NAME), data.draw(EXTENSIONS)
    first, second = data.draw(hashes(fmt)), data.draw(hashes(fmt))
    path, stable = built(fmt, folder, name, first, ext)
    assert normalise(path) == normalise(built(fmt, folder, name, second, ext)[0])  # the same next build
    if normalise(f"{folder}{name}{ext}") == f"{folder}{name}{ext}":  # a name with no hash-like part
        assert normalise(path) == stable


@PROPERTY
@given(
    name=NAME, digest=st.text(alphabet=string.ascii_letters + string.digits + "_-", min_size=8, max_size=8)
)
@example(name="Dashboard", digest="FXkx-rrs")
@example(name="Dashboard", digest="5Fva3MBD")
@example(name="vendor", digest="lodashes")
def test_any_8_base64url_characters_after_a_dash_are_a_rollup_hash(name: str, digest: str) -> None:
    assert normalise(f"assets/{name}-{digest}.js") == normalise(f"assets/{name}-AAAAAAAA.js")
    if normalise(f"assets/{name}.js") == f"assets/{name}.js":
        assert normalise(f"assets/{name}-{digest}.js") == f"assets/{name}.js"


@PROPERTY
@given(
    digest=st.integers(min_value=4, max_value=64).flatmap(
        lambda n: st.text(alphabet="0123456789abcdef", min_size=n, max_size=n)
    ),
    name=st.text(alphabet=string.ascii_letters + string.digits + "_", min_size=1, max_size=12),
)
def test_webpack_contenthash_of_any_length_normalises(digest: str, name: str) -> None:
    """[contenthash:N]: hex of any length from 4 (output.hashDigestLength or :N) up to a whole sha256."""
    assert normalise(f"static/js/{name}.{digest}.chunk.js") == normalise(f"static/js/{name}.0000.chunk.js")
    if normalise(f"static/js/{name}.chunk.js") == f"static/js/{name}.chunk.js":
        assert normalise(f"static/js/{name}.{digest}.chunk.js") == f"static/js/{name}.chunk.js"


@PROPERTY
@given(
    paths=st.lists(
        st.sampled_from(FORMATS).flatmap(
            lambda fmt: st.tuples(DIRS, NAME, hashes(fmt), EXTENSIONS).map(
                lambda parts: built(fmt, *parts)[0]
            )
        ),
        min_size=1,
        max_size=40,
        unique=True,
    )
)
def test_no_two_files_of_one_build_share_a_stable_name(paths: list[str]) -> None:
    pairs = [(path, normalise(path)) for path in paths]
    names = distinct_stable_names(pairs)
    assert len(set(names)) == len(names)
    for (path, stable), name in zip(pairs, names, strict=True):
        assert name in (path, stable)


def test_colliding_files_keep_their_own_names() -> None:
    """esbuild names every shared chunk chunk-[hash]; an unhashed app.js and a hashed app-[hash].js."""
    pairs = [
        ("chunk-AAAA2345.js", "chunk.js"),
        ("chunk-BBBB2345.js", "chunk.js"),
        ("app.js", "app.js"),
        ("app-CCCC2345.js", "app.js"),
        ("app-CCCC2345-DDDD2345.js", "app-CCCC2345.js"),  # collides with a name that was kept
        ("main-EEEE2345.js", "main.js"),
    ]
    assert distinct_stable_names(pairs) == [
        "chunk-AAAA2345.js",
        "chunk-BBBB2345.js",
        "app.js",
        "app-CCCC2345.js",
        "app-CCCC2345-DDDD2345.js",
        "main.js",
    ]


def test_keeping_names_apart_is_linear() -> None:
    """A chain of files each colliding with the next one's kept name resolves in one pass per file."""
    paths = ["a.js", *(f"a{'-ABCD2345' * k}.js" for k in range(1, 2001))]
    names = distinct_stable_names([(p, normalise(p)) for p in paths])
    assert len(set(names)) == len(paths)


# -- through lr-ci bundle ----------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "dist" / "assets").mkdir(parents=True)
    return tmp_path


def write_build(project: Path, files: dict[str, str]) -> None:
    assets = project / "dist" / "assets"
    for old in assets.iterdir():
        old.unlink()
    for name, text in files.items():
        (assets / name).write_text(text)


def test_the_issue_chunk_is_measured_as_grown_not_removed_and_added(project: Path, cli: Cli) -> None:
    write_build(
        project,
        {"index-BxQ2_9kd.js": "import('./Dashboard-5Fva3MBD.js');\n", "Dashboard-5Fva3MBD.js": "a" * 2000},
    )
    assert cli("bundle", "--save-baseline", "base.json").code == 0
    write_build(
        project,
        {"index-Zq81Lm3x.js": "import('./Dashboard-FXkx-rrs.js');\n", "Dashboard-FXkx-rrs.js": "ab" * 2000},
    )
    report = cli("bundle", "--format", "json", "--baseline", "base.json").json()
    assert report["metrics"]["new_files"] == [] and report["metrics"]["removed_files"] == []
    dashboard = report["metrics"]["file_sizes"]["assets/Dashboard.js"]
    assert dashboard["path"] == "assets/Dashboard-FXkx-rrs.js"
    assert dashboard["raw"] == 4000 and dashboard["base"]["raw"] == 2000
    assert dashboard["gzip"] is not None and dashboard["gzip"] > 0 and dashboard["brotli"] is None
    rows = {row[0]: row for row in report["tables"][1]["rows"]}
    assert rows["assets/Dashboard.js"][4] not in ("new", "removed")


def test_file_sizes_in_the_json_metrics(project: Path, cli: Cli) -> None:
    write_build(project, {"index-BxQ2_9kd.js": "let a = 1;\n" * 50, "logo-wuw-H5XK.svg": "<svg/>"})
    (project / "lr-ci.toml").write_text('[bundle]\ncompression = "brotli"\n')
    report = cli("bundle", "--format", "json").json()
    sizes = report["metrics"]["file_sizes"]
    assert list(sizes) == ["assets/index.js", "assets/logo.svg"]
    assert sizes["assets/index.js"]["path"] == "assets/index-BxQ2_9kd.js"
    assert sizes["assets/index.js"]["raw"] == 550
    assert 0 < sizes["assets/index.js"]["brotli"] < 550
    assert sizes["assets/index.js"]["base"] is None  # no baseline
    assert report["metrics"]["files"] == 2


def test_colliding_files_are_kept_apart_in_a_report(project: Path, cli: Cli) -> None:
    """Two esbuild chunks would both be chunk.js: each keeps its name, with its own size."""
    write_build(
        project, {"chunk-AAAA2345.js": "a" * 100, "chunk-BBBB2345.js": "b" * 300, "app-CCCC2345.js": "c"}
    )
    assert cli("bundle", "--save-baseline", "base.json").code == 0
    saved = json.loads((project / "base.json").read_text())["files"]
    assert sorted(saved) == ["assets/app.js", "assets/chunk-AAAA2345.js", "assets/chunk-BBBB2345.js"]
    sizes = cli("bundle", "--format", "json").json()["metrics"]["file_sizes"]
    assert sizes["assets/chunk-AAAA2345.js"]["raw"] == 100 and sizes["assets/chunk-BBBB2345.js"]["raw"] == 300


def test_thousands_of_colliding_chunks_stay_apart_within_the_bound(tmp_path: Path) -> None:
    """esbuild names every shared chunk chunk-[hash]: 5,000 of them are 5,000 files, each with its size,
    in bounded time and memory (they all were one file, chunk.js, with the sizes added up)."""
    from helpers.hostile import PEAK_RSS_LIMIT, all_format_outputs, run_measured

    assets = tmp_path / "project" / "dist" / "assets"
    assets.mkdir(parents=True)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    for i in range(5000):
        digest = "".join(alphabet[(i >> (5 * k)) & 31] for k in range(8))
        (assets / f"chunk-{digest}.js").write_text(f"export const v{i} = {i};\n")
    (assets / "app-ABCD2345.js").write_text("import './chunk-AAAAAAAA.js';\n")
    result = run_measured(
        ["bundle", "--format", "json", "--save-baseline", str(tmp_path / "base.json")],
        cwd=tmp_path / "project",
        env={"XDG_CACHE_HOME": str(tmp_path / "cache"), "NO_COLOR": "1"},
        timeout_s=60,
        outputs=all_format_outputs(tmp_path),
    )
    assert result.code == 0, result.err
    sizes = json.loads(result.out)["metrics"]["file_sizes"]
    assert len(sizes) == 5001 and sizes["assets/app.js"]["path"] == "assets/app-ABCD2345.js"
    assert all(name == entry["path"] for name, entry in sizes.items() if "chunk" in name)
    assert len(json.loads((tmp_path / "base.json").read_text())["files"]) == 5001
    assert result.peak_rss <= PEAK_RSS_LIMIT and result.seconds < 30
