"""Paths as reports show them: relative to the repository root, with ``/`` (the contract's rule).

:func:`repository_root` is lr-ci's one answer to "which repository is this" for files (config lookup,
report paths, ``init``); the secret scan asks git itself (``checks.secrets.git.repository``) only because
it needs git's view anyway (a shallow clone, the commits)."""

from __future__ import annotations

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
