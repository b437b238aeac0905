"""Issue 11, round 2, the secret scanning inside ``lr-ci bundle``: built files that only look binary.

A built file is read as the secret scanner reads any file (``decoded`` in secrets/scan.py): UTF-16/32
decoded, the printable runs of content with NUL bytes scanned. They were skipped as binary: a pass.
"""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from hostile import all_format_outputs, run_measured

# A GitHub token of the documented shape, split so this file does not trip the scanners.
TOKEN = "ghp_" + "Zq8Rt2Lm5Vx7Bn4Kc9Pw1Hd6Jf3Gs0Ya2UeX"

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


@pytest.mark.parametrize("case", list(BUILT))
def test_a_built_file_that_looks_binary_is_scanned(tmp_path: Path, case: str) -> None:
    import json

    name, content, line = BUILT[case]
    project = tmp_path / "project"
    (project / "dist").mkdir(parents=True)
    (project / "dist" / name).write_bytes(content)
    (project / "dist" / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0" + TOKEN.encode())  # skipped by type
    result = run_measured(
        ["bundle", "dist"],
        cwd=project,
        env={"XDG_CACHE_HOME": str(tmp_path / "cache"), "NO_COLOR": "1", "CI": "", "GITHUB_ACTIONS": ""},
        timeout_s=30,
        outputs=all_format_outputs(tmp_path),
    )
    assert result.code == 1, result.err
    assert TOKEN not in result.everything
    report = json.loads(result.files["json"])
    found = [(f["rule"], f["location"]["path"], f["location"]["line"]) for f in report["findings"]]
    assert found == [("github-token", name, line)]
