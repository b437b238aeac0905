"""What the rules read of content (``secret_rules/decoding.py``): compiled programs keep provider rules only."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.cli import Cli
from lr_ci.secret_rules.decoding import is_compiled_program

TOKEN = "ghp_u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8d"  # a GitHub token's shape (its checksum fails: low)
STRINGS = b"\0\0password = Zq3Wm8Kx4Vn7Rt5Jp2Ls9Hd6\0\0api_token: " + TOKEN.encode() + b"\0\0"


@pytest.mark.parametrize(
    "first",
    [
        b"\x7fELF\x02\x01\x01\0",
        b"\xcf\xfa\xed\xfe\x07\0\0\x01",
        b"\xca\xfe\xba\xbe\0\0\0\x02",
        b"\0asm\x01\0\0\0",
        b"MZ\x90\0" + b"\0" * 60 + b"PE\0\0L\x01",
    ],
)
def test_compiled_programs_are_known_by_their_first_bytes(first: bytes) -> None:
    assert is_compiled_program(first)


@pytest.mark.parametrize("first", [b"", b"ELF notes\n", b"MZ is a name\n", b"\0\0password=x", b"PK\x03\x04"])
def test_other_content_is_not_a_program(first: bytes) -> None:
    assert not is_compiled_program(first)


def test_a_program_s_strings_are_read_for_provider_tokens_not_for_keywords_near_values(
    tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tool").write_bytes(b"\x7fELF\x02\x01\x01\0" + b"\0" * 56 + STRINGS)
    (tmp_path / "settings.cfg").write_bytes(b"\0\0\0\0" + STRINGS)  # NUL bytes, not a program: every rule
    result = cli("secrets", ".", "--format", "json")
    found = sorted((f["location"]["path"], f["rule"]) for f in result.json()["findings"])
    assert ("tool", "github-token") in found and ("settings.cfg", "github-token") in found
    assert [rule for path, rule in found if path == "tool"] == ["github-token"]
    assert len([rule for path, rule in found if path == "settings.cfg"]) == 2
