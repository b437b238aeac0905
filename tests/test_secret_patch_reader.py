"""The compiled reader of git's patches (``_sections.c``) reads exactly what the Python reader reads.

A history scan reads ``git log -p -U0`` output. ``git.python_sections`` is the reference; the compiled reader,
built by setup.py when a C compiler is there, is held equal to it through ``git.read_patch`` (the commits,
the file changes with their added and removed lines, the deleted paths, and any error) on real git output of
every kind of change and on hypothesis' texts made of the patch format's own pieces.
"""

from __future__ import annotations

import importlib
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from helpers.git import git
from lr_ci.checks.secrets import git as patches
from lr_ci.checks.secrets.git import Commit, FileChange, PatchStats, Section, python_sections, read_patch


def _compiled() -> ModuleType | None:
    try:
        return importlib.import_module("lr_ci.checks.secrets._sections")
    except ImportError:
        return None


COMPILED = _compiled()
# CI (.ci/run sets LR_CI_REQUIRE_REFERENCE_TOOLS) builds the reader: there, its absence is a failure.
if COMPILED is None and not os.environ.get("LR_CI_REQUIRE_REFERENCE_TOOLS"):
    pytestmark = pytest.mark.skip(reason="the compiled patch reader was not built (no C compiler)")

Outcome = tuple[list[Commit | FileChange], int, dict[str | None, set[str]], str | None]


def outcome(text: bytes, reader: Callable[[bytes], list[Section]]) -> Outcome:
    """What :func:`read_patch` makes of ``text`` with ``reader``: the items, the stats, the error if any."""
    stats = PatchStats()
    items: list[Commit | FileChange] = []
    error = None
    try:
        items.extend(read_patch(text, None, stats, reader))
    except (ValueError, IndexError, UnicodeError) as exc:  # malformed text: both must fail alike
        error = type(exc).__name__
    return items, stats.commits, stats.deleted, error


def compiled_sections() -> Callable[[bytes], list[Section]]:
    assert COMPILED is not None, "the compiled patch reader was not built"
    reader: Callable[[bytes], list[Section]] = COMPILED.sections
    return reader


def assert_same(text: bytes) -> Outcome:
    expected = outcome(text, python_sections)
    assert outcome(text, compiled_sections()) == expected
    return expected


def log_patch(repo: Path) -> bytes:
    """The history's patch exactly as a scan asks git for it."""
    return patches.run_git(
        repo,
        *patches._patch_options(),
        "log",
        *patches._PATCH_FLAGS,
        "--cc",
        f"--format={patches._LOG_FORMAT}",
        "--all",
    )


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)


def test_every_kind_of_change_in_a_real_history_reads_the_same(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    git(tmp_path, "init", "-q", "-b", "main", str(repo))
    (repo / "app.cfg").write_text("debug = false\nport = 80\n")
    (repo / "no newline.txt").write_text("last line")
    (repo / 'caf\u00e9 "quoted".txt').write_text("token = one\n")
    (repo / "image.bin").write_bytes(b"\x00\x01binary\x00")
    (repo / "gone.txt").write_text("bye\n")
    (repo / "blank.txt").write_text("\n\n\n")
    commit_all(repo, "first")
    (repo / "app.cfg").write_text("debug = true\nport = 80\ntoken = Xk9mP2vLq7Rt\n\n+not a diff line\n")
    (repo / "no newline.txt").write_text("last line, changed")
    (repo / "image.bin").write_bytes(b"\x00\x02binary\x00")
    (repo / "gone.txt").unlink()
    (repo / "blank.txt").write_text("\n+\n\n-\n@@ -1 +1 @@\n")
    (repo / "empty.txt").write_text("")
    commit_all(repo, "second")
    git(repo, "checkout", "-q", "-b", "side", "HEAD~1")
    (repo / "app.cfg").write_text("debug = false\nport = 8080\n")
    commit_all(repo, "side")
    git(repo, "checkout", "-q", "main")
    merged = subprocess.run(["git", "merge", "-q", "side"], cwd=repo, capture_output=True, check=False)
    assert merged.returncode != 0  # a conflict: its resolution writes lines of its own
    (repo / "app.cfg").write_text("debug = true\nport = 8080\nsecret = resolved-in-the-merge-42\n")
    commit_all(repo, "merge")
    text = log_patch(repo)
    items, commits, deleted, error = assert_same(text)
    assert (commits, error) == (4, None)
    assert [d for paths in deleted.values() for d in paths] == ["gone.txt"]
    changes = [item for item in items if isinstance(item, FileChange)]
    assert {change.path for change in changes} >= {"app.cfg", "no newline.txt", 'caf\u00e9 "quoted".txt'}
    assert any(change.blob for change in changes)  # the binary file: read from its blob
    assert any(b"resolved-in-the-merge" in text for change in changes for _, text in change.added)
    # Every piece of the text, cut at any commit or file boundary as the scan cuts it, reads the same too.
    for cut in range(len(text)):
        if text.startswith(b"\n\x01", cut) or text.startswith(b"\ndiff --", cut):
            assert_same(text[:cut])
            assert_same(text[cut + 1 :])


def test_the_reader_takes_any_bytes_like_object() -> None:
    text = b"\x01" + b"a" * 40 + b"\x02\x022024-01-01T00:00:00+00:00\ndiff --git a/x b/x\n@@ -0,0 +1 @@\n+v\n"
    sections = compiled_sections()
    assert sections(bytearray(text)) == sections(text) == sections(memoryview(text))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        sections("text")  # type: ignore[arg-type]


HEADER = b"\x01" + b"0123456789abcdef0123456789abcdef01234567" + b"\x02\x022024-01-01T00:00:00+00:00\n"
# The pieces git's patches are made of, and the ones that could trip a reader: markers at line starts,
# headers with and without counts, numbers too long for a machine integer, a "+" line that is empty.
PIECES = [
    b"\n",
    HEADER,
    b"\x01",
    b"\x02",
    b"diff --git a/f.txt b/f.txt\n",
    b'diff --git "a/q\\303\\251.txt" "b/q\\303\\251.txt"\n',
    b"diff --cc m.txt\n",
    b"diff --",
    b"new file mode 100644\n",
    b"deleted file mode 100644\n",
    b"index 0000000000000000000000000000000000000000..1111111111111111111111111111111111111111\n",
    b"Binary files a/f.bin and b/f.bin differ\n",
    b"--- a/f.txt\n+++ b/f.txt\n",
    b"@@ -1 +1 @@\n",
    b"@@ -0,0 +1,2 @@ def f():\n",
    b"@@ -3,2 +0,0 @@\n",
    b"@@ -1 +12345678901234567890 @@\n",
    b"@@@ -1,2 -1,2 +1,3 @@@\n",
    b"@@ -x +y @@\n",
    b"@@",
    b"+added line\n",
    b"+\n",
    b"++\n",
    b"-removed line\n",
    b"--\n",
    b" context\n",
    b"\\ No newline at end of file\n",
    b"+token = Xk9mP2vLq7Rt",
    b"\xff\xfe",
    b"a",
]


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(PIECES), max_size=40))
@example([HEADER, b"diff --git a/f.txt b/f.txt\n", b"@@ -0,0 +1,2 @@ def f():\n", b"+a\n", b"+\n", b"+\n"])
@example([b"diff --git a/f.txt b/f.txt\n", b"@@ -1 +1 @@\n", b"-removed line\n", b"+added line\n"])
@example([HEADER, b"diff --git a/f.txt b/f.txt\n", b"@@ -1 +12345678901234567890 @@\n", b"+a\n"])
def test_texts_made_of_the_patch_formats_pieces_read_the_same(pieces: list[bytes]) -> None:
    assert_same(b"".join(pieces))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_read_the_same(text: bytes) -> None:
    assert_same(text)
