"""Issue 11, round 2, the secret scanning inside ``lr-ci bundle``: built files that only look binary.

A built file is read as the secret scanner reads any file (``decoded`` in secrets/scan.py): UTF-16/32
decoded, the printable runs of content with NUL bytes scanned. They were skipped as binary: a pass.
"""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from helpers.hostile import Measured, all_format_outputs, run_measured

# A GitHub token of the documented shape, split so this file does not trip the scanners.
TOKEN = "ghp_" + "Zq8Rt2Lm5Vx7Bn4Kc9Pw1Hd6Jf3Gs02TwKdN"

BUILT = {
    "app.js starting with NUL bytes": ("app.js", b"\0\0\0// x\n" + f'const t="{TOKEN}";\n'.encode(), 2),
    "config.json in UTF-16 with a BOM": (
        "config.json",
        codecs.BOM_UTF16_LE + f'{{"token": "{TOKEN}"}}'.encode("utf-16-le"),
        1,
    ),
    "config.json in UTF-16 without a BOM": ("config.json", f'{{"token": "{TOKEN}"}}'.encode("utf-16-le"), 1),
    "settings.json in UTF-32": ("settings.json", f'{{\n"token": "{TOKEN}"}}'.encode("utf-32"), 2),
}


def bundle_dist(project: Path, tmp_path: Path, timeout_s: float) -> Measured:
    """``lr-ci bundle dist`` in ``project`` as a developer runs it, every format written beside."""
    return run_measured(
        ["bundle", "dist"],
        cwd=project,
        env={"XDG_CACHE_HOME": str(tmp_path / "cache"), "NO_COLOR": "1", "CI": "", "GITHUB_ACTIONS": ""},
        timeout_s=timeout_s,
        outputs=all_format_outputs(tmp_path),
    )


@pytest.mark.parametrize("case", list(BUILT))
def test_a_built_file_that_looks_binary_is_scanned(tmp_path: Path, case: str) -> None:
    import json

    name, content, line = BUILT[case]
    project = tmp_path / "project"
    (project / "dist").mkdir(parents=True)
    (project / "dist" / name).write_bytes(content)
    (project / "dist" / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0" + TOKEN.encode())  # skipped by type
    result = bundle_dist(project, tmp_path, timeout_s=30)
    assert result.code == 1, result.err
    assert TOKEN not in result.everything
    report = json.loads(result.files["json"])
    found = [(f["rule"], f["location"]["path"], f["location"]["line"]) for f in report["findings"]]
    assert found == [("github-token", name, line)]


def test_thousands_of_secrets_in_a_build_are_listed_up_to_the_cap(tmp_path: Path) -> None:
    """Every source of a map and every line of a script held its own finding: 60,000 tokens took 947 MiB
    to report. The first LISTED_SECRETS are listed, the rest counted per rule, still critical."""
    import json
    import random
    import string
    import zlib

    from helpers.hostile import PEAK_RSS_LIMIT
    from lr_ci.checks.bundle.check import LISTED_SECRETS
    from lr_ci.secret_rules.engine import DEFAULT_MAX_HITS
    from lr_ci.secret_rules.verify import base62

    pick = random.Random(7)
    alphabet = string.ascii_letters + string.digits

    def token() -> str:
        body = "".join(pick.choice(alphabet) for _ in range(30))
        return "ghp_" + body + base62(zlib.crc32(body.encode()))  # its checksum holds: critical

    project = tmp_path / "project"
    (project / "dist").mkdir(parents=True)
    sources = 3000
    contents = [f't="{token()}"' for _ in range(sources)]
    source_map = {
        "version": 3,
        "sources": [f"s{n}.js" for n in range(sources)],
        "sourcesContent": contents,
        "mappings": "",
    }
    (project / "dist" / "app.js.map").write_text(json.dumps(source_map))
    result = bundle_dist(project, tmp_path, timeout_s=60)
    assert result.code == 1, result.err
    for content in contents[:50]:
        assert content[3:-1] not in result.everything
    report = json.loads(result.files["json"])
    secrets = [f for f in report["findings"] if f["rule"] == "github-token"]
    more = [f for f in report["findings"] if f["rule"] == "bundle-secrets-more"]
    assert LISTED_SECRETS - 1 <= len(secrets) <= LISTED_SECRETS  # one place may be an unexamined part
    # Each source once, and the map's own text (which holds every source) up to the engine's hit cap.
    assert [f["severity"] for f in more] == ["critical"]
    assert int(more[0]["message"].split(" more")[0]) == sources + DEFAULT_MAX_HITS - len(secrets)
    assert result.peak_rss <= PEAK_RSS_LIMIT


def test_a_map_of_a_million_tiny_sources_is_scanned_in_batches_within_the_bound(tmp_path: Path) -> None:
    """Each source was its own text and its own scan: 1.1 million took 15 s and 319 MiB. A secret in
    one of them is still reported in its source, at its line."""
    import json

    from helpers.hostile import PEAK_RSS_LIMIT

    project = tmp_path / "project"
    (project / "dist").mkdir(parents=True)
    count = 1_100_000
    contents = ["k=1"] * count
    contents[-7] = f'// config\nconst t = "{TOKEN}";\n'
    # No names (a source is then named by its index): the map stays within one scanning window (8 MiB).
    document = {"version": 3, "sources": [], "sourcesContent": contents, "mappings": ""}
    (project / "dist" / "app.js.map").write_text(json.dumps(document, separators=(",", ":")))
    result = bundle_dist(project, tmp_path, timeout_s=60)
    assert result.code == 1, result.err
    assert TOKEN not in result.everything
    report = json.loads(result.files["json"])
    found = sorted(
        (f["location"]["path"], f["location"]["line"])
        for f in report["findings"]
        if f["rule"] == "github-token"
    )
    assert found == [("app.js.map", 1), (f"app.js.map!{count - 7}", 2)]
    assert result.peak_rss <= PEAK_RSS_LIMIT
