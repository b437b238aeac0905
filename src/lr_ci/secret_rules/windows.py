"""Content of any size in overlapping windows: bounded memory, positions in the file, each hit once.

The engine scans one bytes object at a time (:func:`~lr_ci.secret_rules.engine.scan`); a 200 MB file,
blob or built bundle must not be one. :func:`windows` cuts a stream of chunks into windows of at most
``size`` bytes that overlap by ``overlap`` (more than the longest match any rule allows, multi-line
private keys included), and :meth:`Window.place` turns a hit's position in a window into its position in
the file, or drops it when another window reports it. So every secret is seen whole by some window and
reported by exactly one, at its real line and column, whatever the size of the content. The secret
scanner (every mode) and ``lr-ci bundle`` both read through here. No I/O: chunks in, windows out.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

from lr_ci.secret_rules.engine import Hit, Hits, RuleSet, scan

WINDOW_BYTES = 1 << 20
"""How much content one engine call sees at most (its memory is a small multiple of this)."""
OVERLAP_BYTES = 64 << 10
"""How far consecutive windows overlap: a secret up to this long is whole in the window that reports it."""
CONTEXT_LINE_BYTES = 4096
"""A window also carries the line before the part it owns, when that line is at most this long, so that an
``allow-secret-next-line`` comment on it is seen."""

Position = tuple[int, int]
"""(line, column) in the file, both from 1; columns count bytes."""


@dataclass(frozen=True)
class Window:
    """A part of the content: ``data`` starts at ``start`` in the file.

    The window reports the hits that start in ``[owns_from, owns_until)``; a hit before ``owns_from`` is
    the previous window's (this one sees it only as context), one from ``owns_until`` on is the next
    window's, which holds it whole.
    """

    data: bytes
    start: Position
    owns_from: Position
    owns_until: Position | None
    """None: the last window, which owns everything to the end."""

    @property
    def last(self) -> bool:
        return self.owns_until is None

    def position(self, line: int, column: int) -> Position:
        """A position in ``data`` (from 1) as a position in the file."""
        if line == 1:
            return self.start[0], self.start[1] + column - 1
        return self.start[0] + line - 1, column

    def place(self, hit: Hit) -> Hit | None:
        """``hit`` at its position in the file, or None when another window reports it."""
        at = self.position(hit.line, hit.column)
        if at < self.owns_from or (self.owns_until is not None and at >= self.owns_until):
            return None
        return replace(hit, line=at[0], column=at[1])


def _offset_position(data: bytes, start: Position, offset: int) -> Position:
    newlines = data.count(b"\n", 0, offset)
    if not newlines:
        return start[0], start[1] + offset
    return start[0] + newlines, offset - data.rfind(b"\n", 0, offset)


def windows(
    chunks: Iterable[bytes], size: int = WINDOW_BYTES, overlap: int = OVERLAP_BYTES
) -> Iterator[Window]:
    """The content of ``chunks`` as windows; content of at most ``size`` bytes is one window.

    A window is cut so that the next one starts at a line start at least ``overlap`` bytes before its end,
    or, in a line longer than half a window (minified code), ``overlap`` bytes before its end inside the
    line. Memory: one window and one chunk.
    """
    if not 0 < 2 * overlap < size:
        raise ValueError(f"overlap {overlap} must be less than half the window size {size}")
    source = iter(chunks)
    pending = bytearray()
    start: Position = (1, 1)
    owns_from: Position = (1, 1)
    at_end = False
    while True:
        while len(pending) < size and not at_end:
            chunk = next(source, None)
            at_end = chunk is None
            pending += chunk or b""
        data = bytes(pending[:size])
        if at_end and len(pending) <= size:
            yield Window(data, start, owns_from, None)
            return
        cut = data.rfind(b"\n", 0, len(data) - overlap) + 1
        inside_line = cut < len(data) // 2
        if inside_line:
            cut = len(data) - overlap
        keep_from = cut
        if not inside_line:
            previous_line = data.rfind(b"\n", 0, cut - 1) + 1
            if cut - previous_line <= CONTEXT_LINE_BYTES:
                keep_from = previous_line
        owns_until = _offset_position(data, start, cut)
        yield Window(data, start, owns_from, owns_until)
        start, owns_from = _offset_position(data, start, keep_from), owns_until
        del pending[:keep_from]


def scan_windows(
    chunks: Iterable[bytes], path: str, rules: RuleSet | None = None, *, specific_only: bool = False
) -> Iterator[tuple[Window, Hits]]:
    """Each window of ``chunks`` with the hits it reports, placed in the file.

    ``Hits.dropped`` is what the engine left out of that window past its cap: the caller must say that the
    content was not fully examined (see :class:`~lr_ci.secret_rules.engine.Hits`). ``specific_only``:
    provider rules only (a compiled program's strings, :func:`.decoding.is_compiled_program`).
    """
    for window in windows(chunks):
        found = scan(window.data, path, rules, specific_only=specific_only)
        placed = Hits(hit for hit in map(window.place, found) if hit is not None)
        placed.dropped, placed.searched = found.dropped, found.searched
        yield window, placed
