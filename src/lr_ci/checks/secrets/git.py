"""Reading what to scan out of git: files, the index, commits and blobs. Every git failure is exit 2.

Paths come from git NUL-separated (``-z``) and are decoded with ``surrogateescape``, so names with spaces,
newlines or bytes that are not UTF-8 survive the round trip. Blobs are read through one long-lived
``git cat-file --batch`` process, each unique blob once.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from lr_ci.errors import LrCiError

ZERO_SHA = "0" * 40
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
_SKIPPED_MODES = ("160000", "120000")  # submodules (gitlinks) and symlinks hold no file content
_READ_CHUNK = 1 << 16


def _decode(raw: bytes) -> str:
    return os.fsdecode(raw) if os.name != "nt" else raw.decode("utf-8", "surrogateescape")


def run_git(root: Path, *args: str, check: bool = True) -> bytes:
    """``git -C root ARGS``; a failure is exit 2 quoting git's own first line of complaint."""
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, check=False)
    except FileNotFoundError:
        raise LrCiError("git is not installed or not on PATH") from None
    if check and done.returncode != 0:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines() or [f"exit {done.returncode}"]
        raise LrCiError(f"git {' '.join(args[:3])} failed: {lines[-1] if lines[-1] else lines[0]}")
    return done.stdout


def repository_root(start: Path) -> Path | None:
    done = subprocess.run(
        ["git", "-C", str(start), "rev-parse", "--show-toplevel"], capture_output=True, check=False
    )
    return Path(_decode(done.stdout.strip())) if done.returncode == 0 else None


def has_commits(root: Path) -> bool:
    return bool(run_git(root, "rev-parse", "--verify", "--quiet", "HEAD", check=False).strip())


def is_shallow(root: Path) -> bool:
    return run_git(root, "rev-parse", "--is-shallow-repository").strip() == b"true"


def shallow_boundary(root: Path) -> set[str]:
    """The commits whose parents a shallow clone does not have."""
    path = Path(_decode(run_git(root, "rev-parse", "--git-path", "shallow").strip()))
    path = path if path.is_absolute() else root / path
    return set(path.read_text().split()) if path.is_file() else set()


def resolve(root: Path, revision: str) -> str:
    out = run_git(root, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}", check=False).strip()
    if not out:
        raise LrCiError(
            f"{revision!r} is not a commit in this clone: fetch it first "
            "(in GitHub Actions: actions/checkout with fetch-depth: 0)"
        )
    return out.decode()


def working_tree_files(root: Path) -> list[str]:
    """Tracked files plus untracked files that git does not ignore, relative to ``root``."""
    out = run_git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--deduplicate")
    return [_decode(name) for name in out.split(b"\0") if name]


@dataclass(frozen=True)
class Commit:
    sha: str
    parents: tuple[str, ...]
    author: str
    date: str


@dataclass
class Change:
    """A path whose content a commit (or the index) sets to ``new``; ``old`` are the parents' blobs."""

    path: str
    new: str
    old: list[str] = field(default_factory=list)


def _raw_records(tokens: Sequence[bytes], start: int) -> Iterator[tuple[int, bytes, bytes]]:
    """(index of the path token, meta, path) for the raw diff records from ``tokens[start]`` on."""
    i = start
    while i + 1 < len(tokens) and tokens[i].lstrip(b"\n").startswith(b":"):
        yield i + 1, tokens[i].lstrip(b"\n"), tokens[i + 1]
        i += 2


def _parse_meta(meta: bytes) -> tuple[str, str, str, str, str]:
    """``:old_mode new_mode old_sha new_sha status`` -> its five fields."""
    old_mode, new_mode, old_sha, new_sha, status = meta[1:].decode().split(" ")
    return old_mode, new_mode, old_sha, new_sha, status[:1]


def staged_changes(root: Path) -> list[Change]:
    """What the next commit would change: the staged blobs, and the blobs they replace in HEAD."""
    base = "HEAD" if has_commits(root) else EMPTY_TREE
    out = run_git(root, "diff", "--cached", "--raw", "-z", "--no-renames", "--no-abbrev", base)
    tokens = out.split(b"\0")
    changes = []
    for _, meta, path in _raw_records(tokens, 0):
        old_mode, new_mode, old_sha, new_sha, status = _parse_meta(meta)
        if status == "D" or new_mode in _SKIPPED_MODES:
            continue
        old = [old_sha] if old_sha != ZERO_SHA and old_mode not in _SKIPPED_MODES else []
        changes.append(Change(_decode(path), new_sha, old))
    return changes


_LOG_FORMAT = "%x01%H%x02%P%x02%an <%ae>%x02%aI%x02"


def _nul_tokens(stream: IO[bytes]) -> Iterator[bytes]:
    pending = b""
    while chunk := stream.read(_READ_CHUNK):
        pending += chunk
        *complete, pending = pending.split(b"\0")
        yield from complete
    if pending:
        yield pending


def commit_changes(root: Path, revisions: Sequence[str]) -> Iterator[tuple[Commit, list[Change]]]:
    """Each commit of ``revisions`` (oldest first) with the paths whose content it introduced.

    A merge lists a path only when its content differs from every parent: content that first appears in
    the merge resolution is included, content taken from one side is not (that side's commit has it).
    """
    args = [
        "git",
        "-C",
        str(root),
        "log",
        "--raw",
        "-z",
        "-m",
        "--no-renames",
        "--no-abbrev",
        "--topo-order",
        "--reverse",
        f"--format={_LOG_FORMAT}",
        *revisions,
        "--",
    ]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    current: Commit | None = None
    per_parent: list[dict[str, tuple[str, str]]] = []
    tokens = _nul_tokens(process.stdout)
    try:
        pending_meta: bytes | None = None
        for raw in tokens:
            if pending_meta is not None:
                meta, pending_meta = pending_meta, None
                old_mode, new_mode, old_sha, new_sha, status = _parse_meta(meta)
                if status != "D" and new_mode not in _SKIPPED_MODES:
                    old = old_sha if old_sha != ZERO_SHA and old_mode not in _SKIPPED_MODES else ""
                    per_parent[-1][_decode(raw)] = (new_sha, old)
                continue
            token = raw.lstrip(b"\n")
            if token.startswith(b":"):
                pending_meta = token
            elif token.startswith(b"\x01"):
                sha, parents, author, date, _ = token[1:].decode("utf-8", "replace").split("\x02")
                if current is not None and current.sha == sha:
                    per_parent.append({})  # the same merge again, diffed against its next parent
                    continue
                if current is not None:
                    yield current, _introduced(current, per_parent)
                current = Commit(sha, tuple(parents.split()), author, date)
                per_parent = [{}]
        if current is not None:
            yield current, _introduced(current, per_parent)
    finally:
        process.stdout.close()
        code = process.wait()
        error = process.stderr.read().decode("utf-8", "replace").strip()
        process.stderr.close()
    if code != 0:
        raise LrCiError(f"git log {' '.join(revisions)} failed: {error.splitlines()[-1] if error else code}")


def _introduced(commit: Commit, per_parent: list[dict[str, tuple[str, str]]]) -> list[Change]:
    needed = max(1, len(commit.parents))
    paths = per_parent[0].keys() if needed == 1 else set.intersection(*(set(d) for d in per_parent))
    changes = []
    for path in sorted(paths):
        diffs = [d[path] for d in per_parent if path in d]
        if len(diffs) < needed:
            continue
        changes.append(Change(path, diffs[0][0], [old for _, old in diffs if old]))
    return changes


class BlobReader:
    """One ``git cat-file --batch`` process, asked for one blob at a time."""

    def __init__(self, root: Path) -> None:
        self._process = subprocess.Popen(
            ["git", "-C", str(root), "cat-file", "--batch"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )

    def read(self, sha: str) -> bytes | None:
        """The blob's bytes, or ``None`` when the object is missing (a partial or shallow clone)."""
        process = self._process
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(sha.encode() + b"\n")
        process.stdin.flush()
        header = process.stdout.readline()
        if not header:
            raise LrCiError("git cat-file stopped unexpectedly while reading blobs")
        if header.endswith(b" missing\n"):
            return None
        size = int(header.split()[2])
        data = process.stdout.read(size)
        process.stdout.read(1)  # the newline after the content
        return data

    def close(self) -> None:
        if self._process.stdin:
            self._process.stdin.close()
        if self._process.stdout:
            self._process.stdout.close()
        self._process.wait()

    def __enter__(self) -> BlobReader:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
