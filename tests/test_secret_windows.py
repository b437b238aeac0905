"""Overlapping windows: every byte owned by exactly one window, positions in the file, each secret once."""

from __future__ import annotations

import random

import pytest

from lr_ci.secret_rules.engine import scan
from lr_ci.secret_rules.windows import OVERLAP_BYTES, WINDOW_BYTES, Window, scan_windows, windows

TOKEN = (
    "ghp_" + "u8jzPde0IgxLd6GncfBAepfJBd0Kh8024xXH"
)  # random-looking (A1b2C3d4... is a placeholder), checksum valid


def _offset(data: bytes, line: int, column: int) -> int:
    """The byte offset of a (line, column) position in ``data``."""
    start = 0
    for _ in range(line - 1):
        start = data.index(b"\n", start) + 1
    return start + column - 1


def _pieces(data: bytes, sizes: int) -> list[bytes]:
    return [data[i : i + sizes] for i in range(0, len(data), sizes)]


def _check_cover(data: bytes, found: list[Window], overlap: int) -> None:
    owned_until = 0
    for window in found:
        start = _offset(data, *window.start)
        assert data[start : start + len(window.data)] == window.data
        assert _offset(data, *window.owns_from) == owned_until  # every byte owned exactly once
        if window.owns_until is None:
            assert start + len(window.data) == len(data)
        else:
            owned_until = _offset(data, *window.owns_until)
            assert owned_until <= start + len(window.data) - overlap  # a secret up to overlap is whole
    assert found[-1].last


@pytest.mark.parametrize(
    "data",
    [
        b"x" * 5000,  # one long line: cut inside it
        b"short line\n" * 800,  # many lines: cut at line ends, with the line before as context
        b"x" * 3000 + b"\n" + b"y" * 2500 + b"\n" + b"z\n" * 400,
        bytes(random.Random(7).choice(b"ab\n") for _ in range(9000)),
    ],
)
def test_windows_cover_every_byte_once_at_their_place_in_the_file(data: bytes) -> None:
    for chunk in (1, 97, 4096, len(data)):
        found = list(windows(_pieces(data, chunk), size=1024, overlap=128))
        assert len(found) > 1
        _check_cover(data, found, 128)


def test_content_up_to_a_window_is_one_window() -> None:
    data = b"let a = 1;\n" * 90
    assert list(windows([data], size=1024, overlap=128)) == [Window(data, (1, 1), (1, 1), None)]
    assert list(windows([], size=1024, overlap=128)) == [Window(b"", (1, 1), (1, 1), None)]


def test_an_overlap_of_half_a_window_or_more_is_refused() -> None:
    with pytest.raises(ValueError, match="less than half"):
        list(windows([b"x"], size=100, overlap=50))


def test_a_hit_is_placed_in_the_file_and_reported_by_one_window() -> None:
    line = b"x" * 900 + b" token=" + TOKEN.encode() + b" " + b"y" * 900 + b"\n"
    data = b"first\n" + line * 3
    found = list(windows([data], size=1024, overlap=128))
    placed = [p for w in found for h in scan(w.data, "a.cfg") if (p := w.place(h)) is not None]
    columns = [(hit.line, hit.column) for hit in placed]
    assert columns == [(line_number, 908) for line_number in (2, 3, 4)]


@pytest.mark.parametrize("shift", [0, 1, OVERLAP_BYTES // 2, OVERLAP_BYTES - 40, OVERLAP_BYTES + 10])
def test_a_secret_around_a_window_boundary_is_found_once(shift: int) -> None:
    """The real sizes: tokens and a multi-line private key placed around the first boundary."""
    key = (
        "-----BEGIN RSA PRIVATE KEY-----\n"
        + "\n".join(["MIIEow" + "wDBofCsK54UxT82d+6aavlFyWjCz1Y+ZvhV96cBqwLpcg9diiCFscx8eo/"] * 20)
        + "\n-----END RSA PRIVATE KEY-----"
    )
    filler = b"# nothing here at all\n" * ((WINDOW_BYTES - shift) // 23)
    data = filler + f'token = "{TOKEN}"\n{key}\n'.encode() + filler
    hits = [hit for _, found in scan_windows(_pieces(data, 65536), "app.cfg") for hit in found]
    assert sorted(hit.rule.id for hit in hits) == ["github-token", "private-key"]
    token_line = filler.count(b"\n") + 1
    assert [hit.line for hit in hits if hit.rule.id == "github-token"] == [token_line]
    assert [hit.line for hit in hits if hit.rule.id == "private-key"] == [token_line + 1]
