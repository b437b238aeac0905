"""Which lr-ci commit this is: what ``lr-ci init --workflows`` pins its actions and hooks to.

A workflow that uses lr-ci's actions must pin a commit (a tag can be moved), and that commit should be
the lr-ci the user has in hand, not a placeholder they must remember to replace. A wheel or sdist
records it when it is built (``setup.py`` writes ``lr_ci/_build_commit.py``, which git ignores); a source
checkout (an editable install, ``python3 dev.py``) has no build step that would keep it current, so git is
asked there, at the time it is needed.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

_SHA = re.compile(r"[0-9a-f]{40}\Z")


def built_from() -> str | None:
    """The full commit SHA this lr-ci was built from, or None when it cannot be told (built outside git)."""
    try:
        from lr_ci._build_commit import COMMIT  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return _checkout_commit(Path(__file__).resolve().parents[2])
    return COMMIT if isinstance(COMMIT, str) and _SHA.match(COMMIT) else None


def _checkout_commit(root: Path) -> str | None:
    """HEAD of the git checkout at ``root`` (the source tree lr-ci runs from), if it is one."""
    if not (root / ".git").exists() or not (root / "pyproject.toml").is_file():
        return None
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--verify", "-q", "HEAD^{commit}"],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and _SHA.match(commit) else None
