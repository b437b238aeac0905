"""The scan modes, all on one engine: working tree, given paths, the index, a commit range, all history.

For the index and for commits, only secrets a change *introduces* are reported: a secret on a line it
added that none of its removed lines had. So a commit touching a file with an accepted old secret is not
blocked again, and content that first appears in a merge resolution is found.
"""

from __future__ import annotations

import os
import stat
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
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


def introduced(change: git.FileChange, scanner: ContentScanner) -> list[Hit]:
    """Secrets in the lines a change added, except those its removed lines already had (a moved line)."""
    if not scanner.wanted(change.path) or scanner.too_big(sum(len(text) for _, text in change.added)):
        return []
    hits = []
    for first_line, text in change.added:
        hits += [replace(hit, line=hit.line + first_line - 1) for hit in scanner.hits(text, change.path)]
    if hits and change.removed:
        before = {hit.secret for hit in scanner.hits(b"\n".join(change.removed), change.path)}
        hits = [hit for hit in hits if hit.secret not in before]
    return hits


def scan_patches(
    patches: git.Patches, scanner: ContentScanner, progress: Callable[[int], None] | None = None
) -> list[Occurrence]:
    """Secrets introduced by the changes of a patch (the index, or commits), oldest commit first."""
    parts = []
    for part, change in patches:
        parts += [(part, Occurrence(hit, change.path, change.commit)) for hit in introduced(change, scanner)]
        if progress is not None:
            progress(patches.stats.commits)
    found = [occurrence for _, occurrence in sorted(parts, key=lambda item: item[0])]
    scanner.counts["commits_scanned"] += patches.stats.commits
    scanner.counts["skipped_binary"] += patches.stats.binary
    return found
