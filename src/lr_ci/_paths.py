"""Paths as reports show them: relative to the repository root, with ``/`` (the contract's rule)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path


def repository_root(start: Path) -> Path | None:
    """The nearest directory at or above ``start`` holding ``.git`` (a directory; a file in worktrees)."""
    start = start.resolve()
    return next((d for d in (start, *start.parents) if (d / ".git").exists()), None)


def report_path(path: Path, start: Path | None = None) -> str:
    """``path`` relative to the repository root (or to the working directory outside a repository)."""
    base = Path.cwd() if start is None else start
    root = repository_root(base) or base.resolve()
    resolved = path if path.is_absolute() else base / path
    try:
        return resolved.resolve().relative_to(root).as_posix()
    except ValueError:
        return resolved.resolve().as_posix()


@cache
def glob_regex(pattern: str) -> re.Pattern[str]:
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
    compiled = [glob_regex(p) for p in patterns]
    return lambda path: any(p.fullmatch(path) for p in compiled)
