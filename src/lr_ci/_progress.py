"""Progress on a terminal for long operations (history scans, load tests, many files).

Shown only when stderr is a terminal, and never in CI (``CI`` set), with ``--quiet``, or in GitHub mode:
logs must stay clean. Updates are throttled, and the line is cleared when the operation ends.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

_MIN_INTERVAL_S = 0.1


class Progress:
    """A progress line; a context manager (``with run.progress(...) as progress:``) that clears it at the end,
    also when the operation fails."""

    def __init__(
        self, label: str, total: int | None = None, *, enabled: bool = True, stream: TextIO | None = None
    ) -> None:
        self.label = label
        self.total = total
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self._last = 0.0
        self._shown = False

    def __call__(self, done: int, note: str = "") -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < _MIN_INTERVAL_S and (self.total is None or done < self.total):
            return
        self._last = now
        count = f"{done}/{self.total}" if self.total else str(done)
        self.stream.write(f"\r\x1b[K{self.label} {count}{' ' + note if note else ''}")
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        if self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._shown = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def wanted(quiet: bool, output_format: str, stream: TextIO | None = None) -> bool:
    """Whether progress may be drawn: a terminal, not CI, not --quiet, not GitHub's log format."""
    target = stream or sys.stderr
    return target.isatty() and not os.environ.get("CI") and not quiet and output_format != "github"
