"""lr-ci bundle on real build outputs: hashed names across builds, budgets, growth, secrets, source maps."""

from __future__ import annotations

import gzip
import json
import os
import random
import shutil
import string
import subprocess
from pathlib import Path
from typing import Any

import pytest

from helpers.cli import Cli, Result
from lr_ci.checks.bundle.sizes import brotli_size, gzip_size, parse_size, stable_name

ALPHABET = string.ascii_letters + string.digits + "_"


def js(n: int, seed: int) -> str:
    rng = random.Random(seed)
    words = ["invoice", "approve", "report", "customer", "amount", "status", "render", "fetch", "table"]
    return "".join(
        f"export function {rng.choice(words)}{i}(a){{return a+{rng.randint(0, 999)};}}\n" for i in range(n)
    )


def build(root: Path, seed: int, *, app_size: int = 400, extra: dict[str, str] | None = None) -> Path:
    """A Vite-like output: hashed names that change with every build, the same content."""
    rng = random.Random(seed)

    def h(n: int = 8) -> str:
        return "".join(rng.choice(ALPHABET) for _ in range(n - 1)) + rng.choice(string.digits)

    dist = root / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text(f'<script src="/assets/index-{h()}.js"></script>')
    (dist / "assets" / f"index-{h()}.js").write_text(js(app_size, 1))
    (dist / "assets" / f"vendor-{h()}.js").write_text(js(300, 2))
    (dist / "assets" / f"style.{rng.getrandbits(32):08x}.css").write_text("body{color:#123}" * 200)
    for name, content in (extra or {}).items():
        (dist / name).parent.mkdir(parents=True, exist_ok=True)
        (dist / name).write_text(content)
    return dist


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path


def bundle(cli: Cli, *args: str) -> tuple[Result, Any]:
    result = cli("bundle", "--format", "json", *args)
    assert result.code in (0, 1), result.err
    return result, result.json()


def test_hashed_names_match_across_builds(project: Path, cli: Cli) -> None:
    build(project, seed=1)
    assert cli("bundle", "--save-baseline", "base.json").code == 0
    build(project, seed=2)  # new hashes, same content
    result, report = bundle(cli, "--baseline", "base.json")
    assert result.code == 0
    assert report["metrics"]["new_files"] == [] and report["metrics"]["removed_files"] == []
    assert all(group["change"] == 0 for group in report["metrics"]["groups"].values())
    names = sorted(json.loads((project / "base.json").read_text())["files"])
    assert names == ["assets/index.js", "assets/style.css", "assets/vendor.js", "index.html"]


@pytest.mark.parametrize(
    ("path", "stable"),
    [
        ("assets/index-BxQ2_9kd.js", "assets/index.js"),
        ("static/js/main.3f9a2c1b.js", "static/js/main.js"),
        ("static/js/787.3f9a2c1b.chunk.js", "static/js/787.chunk.js"),
        ("static/css/chunk.8d1f.css", "static/css/chunk.css"),
        ("chunks/pages/index-3f9a2c1b9e8d7f6a.js", "chunks/pages/index.js"),
        ("Xa1b2C3d4E5f6G7h8I9j0/_buildManifest.js", "[build]/_buildManifest.js"),
        ("static/Xa1b2C3d4E5f6G7h8I9j0/_buildManifest.js", "static/[build]/_buildManifest.js"),
        ("out-ABCD1234.js", "out.js"),
        ("assets/vendor-lodashes.js", "assets/vendor.js"),  # 8 base64url characters: a hash in any build
        ("my-component.js", "my-component.js"),
    ],
)
def test_stable_names(path: str, stable: str) -> None:
    assert stable_name(path) == stable


def test_custom_hash_pattern(project: Path, cli: Cli) -> None:
    (project / "dist").mkdir()
    (project / "dist" / "app~v1a2b.js").write_text("x")
    (project / "lr-ci.toml").write_text('[bundle]\nhash_pattern = "~v[0-9a-z]+"\n')
    _, report = bundle(cli)
    assert report["metrics"]["groups"]["js"]["files"] == 1
    cli("bundle", "--save-baseline", "b.json")
    assert list(json.loads((project / "b.json").read_text())["files"]) == ["app.js"]


def test_growth_thresholds_and_the_min_change_floor(project: Path, cli: Cli) -> None:
    build(project, seed=1, app_size=400)
    cli("bundle", "--save-baseline", "base.json")
    build(project, seed=3, app_size=640)  # the app chunk grows by more than half
    result, report = bundle(cli, "--baseline", "base.json")
    assert result.code == 1
    finding = report["findings"][0]
    assert finding["rule"] == "bundle-growth" and finding["message"].startswith("group js grew")
    build(project, seed=4, app_size=420)  # +5%: under max_growth
    assert bundle(cli, "--baseline", "base.json")[0].code == 0
    (project / "lr-ci.toml").write_text('[bundle]\nmax_growth = 0.01\nmin_change = "50 kB"\n')
    assert bundle(cli, "--baseline", "base.json")[0].code == 0  # over 1%, but under the 50 kB floor


def test_new_and_removed_files(project: Path, cli: Cli) -> None:
    build(project, seed=1)
    cli("bundle", "--save-baseline", "base.json")
    dist = build(project, seed=2, extra={"assets/charts-Zq81Lm3x.js": js(50, 9)})
    next(dist.glob("assets/vendor-*.js")).unlink()
    _, report = bundle(cli, "--baseline", "base.json")
    assert report["metrics"]["new_files"] == ["assets/charts.js"]
    assert report["metrics"]["removed_files"] == ["assets/vendor.js"]
    rows = {row[0]: row for row in report["tables"][1]["rows"]}
    assert rows["assets/charts.js"][1] == "–" and rows["assets/charts.js"][4] == "new"
    assert rows["assets/vendor.js"][2] == "–" and rows["assets/vendor.js"][4] == "removed"


@pytest.mark.parametrize(
    ("limit", "passes"), [("100 B", False), ("2 kB", False), ("64 KiB", True), ("1 MB", True)]
)
def test_limits_in_units(project: Path, cli: Cli, limit: str, passes: bool) -> None:
    build(project, seed=1)
    (project / "lr-ci.toml").write_text(
        f'[[bundle.budgets]]\nname = "app"\nfiles = "assets/*.js"\nlimit = "{limit}"\n'
    )
    result, report = bundle(cli)
    assert (result.code == 0) == passes, report["findings"]
    if not passes:
        assert f"over the {limit} limit" in report["findings"][0]["message"]


def test_per_file_budgets_and_brotli(project: Path, cli: Cli) -> None:
    build(project, seed=1)
    (project / "lr-ci.toml").write_text(
        '[[bundle.budgets]]\nfiles = "assets/*.js"\nlimit = "1 kB"\nper_file = true\ncompression = "brotli"\n'
    )
    _, report = bundle(cli)
    over = sorted(f["location"]["path"].split("-")[0] for f in report["findings"])
    assert over == ["assets/index", "assets/vendor"] and "brotli" in report["findings"][0]["message"]


def test_bad_limit_is_a_config_error(project: Path, cli: Cli) -> None:
    build(project, seed=1)
    (project / "lr-ci.toml").write_text('[[bundle.budgets]]\nfiles = "*.js"\nlimit = "250 kilos"\n')
    result = cli("bundle")
    assert result.code == 2 and "is not a size" in result.err


def test_secrets_in_chunks_and_source_maps(project: Path, cli: Cli) -> None:
    token = "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"
    source_map = {
        "version": 3,
        "sources": ["src/config.ts"],
        "mappings": "AAAA",
        "sourcesContent": ['export const stripe = "sk_live_51Hq9xfogoEmvnEN5N1aE6PwZPf1Qh6yYTWmE4lBYOvf";\n'],
    }
    build(
        project,
        seed=1,
        extra={
            "assets/admin-Q1w2E3r4.js": f'const t="{token}";',
            "assets/index.js.map": json.dumps(source_map),
        },
    )
    result, report = bundle(cli)
    assert result.code == 1
    rules = sorted((f["rule"], f["location"]["path"]) for f in report["findings"])
    assert ("github-token", "assets/admin-Q1w2E3r4.js") in rules
    assert ("stripe-secret-key", "assets/index.js.map!src/config.ts") in rules
    assert ("bundle-source-map", "assets/index.js.map") in rules
    assert token not in result.out


def test_missing_and_empty_build_folders(project: Path, cli: Cli) -> None:
    result = cli("bundle")
    assert result.code == 2 and "no build folder found here" in result.err
    result = cli("bundle", "nope")
    assert result.code == 2 and "nope: no such build folder" in result.err
    (project / "dist").mkdir()
    result = cli("bundle", "dist")
    assert result.code == 2 and "the build folder is empty" in result.err


def test_sizes_units() -> None:
    assert [parse_size(s) for s in ("250 kB", "1.5 KiB", "2MB", "1 MiB", "500", "900 B")] == [
        250_000,
        1536,
        2_000_000,
        1_048_576,
        500,
        900,
    ]
    with pytest.raises(ValueError):
        parse_size("lots")


def test_sizes_equal_the_reference_compressors(tmp_path: Path) -> None:
    missing = [tool for tool in ("gzip", "brotli") if shutil.which(tool) is None]
    if missing:
        # .ci/run installs them and sets LR_CI_REQUIRE_REFERENCE_TOOLS, so CI never skips this.
        assert not os.environ.get("LR_CI_REQUIRE_REFERENCE_TOOLS"), f"missing reference tools: {missing}"
        pytest.skip(f"reference compressors not installed: {', '.join(missing)} (apt-get install brotli)")
    samples = [js(200, 5).encode(), b"body{color:#123}" * 500, bytes(range(256)) * 40, b"", b"a"]
    for index, data in enumerate(samples):
        path = tmp_path / f"sample{index}"
        path.write_bytes(data)
        gnu = subprocess.run(["gzip", "-9", "-n", "-c", str(path)], capture_output=True, check=True).stdout
        assert gzip_size(data) == len(gnu) == len(gzip.compress(data, 9, mtime=0))
        reference = shutil.which("brotli")
        assert reference is not None
        # Quality 11 with the library's 4 MiB window (-w 22), as Node and size-limit compress.
        google = subprocess.run(
            [reference, "-q", "11", "-w", "22", "-c", str(path)], capture_output=True, check=True
        ).stdout
        assert brotli_size(data) == len(google)
