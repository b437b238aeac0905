"""Baseline JSON files: bounded reads, and strict shapes that name the wrong field."""

from __future__ import annotations

from pathlib import Path

import pytest
from typing_extensions import TypedDict

from lr_ci._json_files import read_json, read_shaped
from lr_ci.errors import LrCiError


class _Round(TypedDict):
    counts: list[int]


class _Baseline(TypedDict):
    schema: str
    routes: dict[str, list[_Round]]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "baseline.json"
    path.write_text(text)
    return path


def test_a_well_formed_document_comes_back_as_read(tmp_path: Path) -> None:
    path = _write(tmp_path, '{"schema": "s/1", "routes": {"home": [{"counts": [1, 2]}]}}')
    assert read_shaped(path, "baseline", _Baseline, "s/1") == {
        "schema": "s/1",
        "routes": {"home": [{"counts": [1, 2]}]},
    }


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('{"schema": "s/1", "routes": {"home": [{"counts": [true]}]}}', "routes.home.0.counts.0"),
        ('{"schema": "s/1", "routes": {"home": [{"counts": "1,2"}]}}', "routes.home.0.counts"),
        ('{"schema": "s/1", "routes": {"home": [{"counts": [1.5]}]}}', "routes.home.0.counts.0"),
        ('{"schema": "s/1", "routes": []}', "routes"),
        ('{"schema": "s/1"}', "routes"),
    ],
)
def test_a_wrong_type_names_the_field(tmp_path: Path, text: str, where: str) -> None:
    with pytest.raises(LrCiError, match=rf"baseline.json: the baseline is not valid: {where}: "):
        read_shaped(_write(tmp_path, text), "baseline", _Baseline, "s/1")


def test_an_endless_file_is_refused_without_reading_it_all() -> None:
    with pytest.raises(LrCiError, match="/dev/zero: the baseline is larger than 64 MiB"):
        read_json(Path("/dev/zero"), "baseline")


def test_deep_nesting_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LrCiError, match="nested too deeply"):
        read_json(_write(tmp_path, "[" * 200_000 + "]" * 200_000), "baseline")


def test_another_schema_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LrCiError, match=r"not an lr-ci baseline \(schema s/1\)"):
        read_json(_write(tmp_path, '{"schema": "other/1"}'), "baseline", "s/1")


def test_a_baseline_is_never_written_through_a_link_or_into_a_fifo(tmp_path: Path) -> None:
    import os

    from lr_ci._json_files import write_json

    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    (tmp_path / "baseline.json").symlink_to(victim)
    with pytest.raises(LrCiError, match="symbolic link"):
        write_json(tmp_path / "baseline.json", {"a": 1}, "baseline")
    assert victim.read_text() == "keep me\n"
    os.mkfifo(tmp_path / "fifo.json")
    with pytest.raises(LrCiError, match="FIFO that nobody reads"):
        write_json(tmp_path / "fifo.json", {"a": 1}, "baseline")
    write_json(tmp_path / "ok.json", {"b": 2, "a": 1}, "baseline")
    assert (tmp_path / "ok.json").read_text() == '{\n "a": 1,\n "b": 2\n}\n'
