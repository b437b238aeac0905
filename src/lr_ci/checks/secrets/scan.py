"""The scan modes, all on one engine: working tree, given paths, the index, a commit range, all history.

For the index and for commits, only secrets a change *introduces* are reported: a secret in the new blob
that none of the blobs it replaces already had. So a commit touching a file with an accepted old secret is
not blocked again, and content that first appears in a merge resolution is found.
"""

from __future__ import annotations

import os
import re
import stat
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from lr_ci.checks.secrets import git
from lr_ci.checks.secrets.engine import Hit, RuleSet, is_binary, path_policy, scan
from lr_ci.errors import LrCiError

ALWAYS_EXCLUDED_DIRS = frozenset({".git", ".hg", ".svn"})


@dataclass(frozen=True)
class Occurrence:
    hit: Hit
    path: str
    commit: git.Commit | None = None


@cache
def _glob_regex(pattern: str) -> re.Pattern[str]:
    """A gitignore-like glob: ``*`` within a name, ``**`` across folders, no ``/`` means any folder."""
    anchored = "/" in pattern.rstrip("/")
    body = pattern.strip("/")
    out = []
    i = 0
    while i < len(body):
        if body.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif body.startswith("**", i):
            out.append(".*")
            i += 2
        elif body[i] == "*":
            out.append("[^/]*")
            i += 1
        elif body[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(body[i]))
            i += 1
    prefix = "" if anchored else "(?:.*/)?"
    return re.compile(f"{prefix}{''.join(out)}(?:/.*)?")


def excluder(patterns: Iterable[str]) -> Callable[[str], bool]:
    compiled = [_glob_regex(p) for p in patterns]
    return lambda path: any(p.fullmatch(path) for p in compiled)


class ContentScanner:
    """Scans contents with the path policy, size limit and exclusions, counting what it skips."""

    def __init__(self, rules: RuleSet, max_bytes: int, excluded: Callable[[str], bool]) -> None:
        self.rules = rules
        self.max_bytes = max_bytes
        self.excluded = excluded
        self.counts: Counter[str] = Counter()

    def wanted(self, path: str) -> bool:
        if self.excluded(path):
            self.counts["excluded"] += 1
            return False
        if path_policy(path).scan == "skip":
            self.counts["skipped_by_type"] += 1
            return False
        return True

    def too_big(self, size: int) -> bool:
        if size > self.max_bytes:
            self.counts["skipped_huge"] += 1
            return True
        return False

    def hits(self, data: bytes, path: str) -> list[Hit]:
        if is_binary(data):
            self.counts["skipped_binary"] += 1
            return []
        self.counts["bytes_scanned"] += len(data)
        return scan(data, path, self.rules)


def scan_files(root: Path, paths: Iterable[str], scanner: ContentScanner) -> list[Occurrence]:
    """Files on disk, ``paths`` relative to ``root``. Symlinks, sockets and submodules are not files."""
    found: list[Occurrence] = []
    for path in paths:
        if not scanner.wanted(path):
            continue
        full = root / path
        try:
            info = full.lstat()
        except FileNotFoundError:
            continue  # tracked but deleted in the working tree: nothing to scan
        except OSError as exc:
            raise LrCiError(f"{path}: cannot read: {exc.strerror or exc}") from None
        if not stat.S_ISREG(info.st_mode) or scanner.too_big(info.st_size):
            continue
        try:
            data = full.read_bytes()
        except OSError as exc:
            raise LrCiError(f"{path}: cannot read: {exc.strerror or exc}") from None
        scanner.counts["files_scanned"] += 1
        found += [Occurrence(hit, path) for hit in scanner.hits(data, path)]
    return found


def walk(targets: Iterable[Path], base: Path) -> list[str]:
    """Files under ``targets`` (files or folders), as paths relative to ``base`` with ``/``."""
    files: list[str] = []
    for target in targets:
        if not target.exists() and not target.is_symlink():
            raise LrCiError(f"{target}: no such file or directory")
        if target.is_dir() and not target.is_symlink():
            for folder, dirs, names in os.walk(target):
                dirs[:] = sorted(d for d in dirs if d not in ALWAYS_EXCLUDED_DIRS)
                files += [_relative(Path(folder) / name, base) for name in sorted(names)]
        else:
            files.append(_relative(target, base))
    return files


def _relative(path: Path, base: Path) -> str:
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(base).as_posix()
    except ValueError:
        return absolute.as_posix()


class BlobScanner:
    """Scans blobs by id, each (blob, path kind) once, and tells which secrets a change introduced."""

    def __init__(self, reader: git.BlobReader, scanner: ContentScanner) -> None:
        self.reader = reader
        self.scanner = scanner
        self._cache: dict[tuple[str, str, bool], tuple[Hit, ...]] = {}

    def hits(self, sha: str, path: str) -> tuple[Hit, ...]:
        policy = path_policy(path)
        key = (sha, policy.scan, policy.code)
        cached = self._cache.get(key)
        if cached is None:
            data = self.reader.read(sha)
            if data is None:
                raise LrCiError(
                    f"blob {sha[:12]} of {path} is missing from this clone (partial clone?): fetch the "
                    "full history (fetch-depth: 0) and run again"
                )
            self.scanner.counts["blobs_scanned"] += 1
            cached = () if self.scanner.too_big(len(data)) else tuple(self.scanner.hits(data, path))
            self._cache[key] = cached
        return cached

    def introduced(self, change: git.Change) -> list[Hit]:
        if not self.scanner.wanted(change.path):
            return []
        new = self.hits(change.new, change.path)
        if not new:
            return []
        before = {hit.secret for old in change.old for hit in self.hits(old, change.path)}
        return [hit for hit in new if hit.secret not in before]


def scan_staged(root: Path, scanner: ContentScanner) -> list[Occurrence]:
    changes = git.staged_changes(root)
    with git.BlobReader(root) as reader:
        blobs = BlobScanner(reader, scanner)
        return [Occurrence(hit, change.path) for change in changes for hit in blobs.introduced(change)]


def scan_commits(root: Path, revisions: list[str], scanner: ContentScanner) -> list[Occurrence]:
    """Secrets introduced by the commits of ``revisions``, oldest commit first."""
    found: list[Occurrence] = []
    with git.BlobReader(root) as reader:
        blobs = BlobScanner(reader, scanner)
        for commit, changes in git.commit_changes(root, revisions):
            scanner.counts["commits_scanned"] += 1
            for change in changes:
                found += [Occurrence(hit, change.path, commit) for hit in blobs.introduced(change)]
    return found
