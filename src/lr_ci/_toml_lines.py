"""Where each key of a TOML document is written, so that config errors can say ``file:line``.

``tomllib`` returns values without positions. This scanner reads the same text line by line and records
the line of every table header and every ``key =`` at the top level of a table (dotted and quoted keys
included, ``[[array]]`` tables numbered as TOML numbers them). Keys inside inline tables and multi-line
arrays are not recorded; an error there is reported at the line of the enclosing key, which is where the
user looks anyway.

The scan runs before ``tomllib`` and bounds how deep the document nests: arrays and inline tables
(:data:`MAX_NESTING`) and the parts of a key with its table header (:data:`MAX_KEY_PARTS`). ``tomllib``
recurses once per nested array or inline table and stores every prefix of every key, so a 200 kB file
could otherwise crash it or take gigabytes. The scan itself is linear in the text and recurses nowhere.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

KeyPath = tuple[str | int, ...]

MAX_NESTING = 64
"""The deepest arrays and inline tables may nest (``tomllib`` recurses once per level)."""
MAX_KEY_PARTS = 16
"""The most parts a key may have, table header and dotted key together (``smoke.flows.login.steps``
is 4): ``tomllib`` keeps every prefix of every key, so its memory grows with the square of this."""


class ShapeLimitExceeded(Exception):
    """A value nested deeper than :data:`MAX_NESTING`, a key longer than :data:`MAX_KEY_PARTS` or more
    than :data:`MAX_KEY_NAMES` key names, first at ``line`` (1-based); ``problem`` says which."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(f"line {line}: {problem}")
        self.line = line
        self.problem = problem


MAX_KEY_NAMES = 50_000
"""Keys and table names a document may write, counting each part of a dotted key or header: each can
create a table, and 1 MiB of 13-part keys would otherwise be half a million tables."""

_TOO_DEEP = f"nested more than {MAX_NESTING} levels deep"
_TOO_LONG = f"a key of more than {MAX_KEY_PARTS} parts (table header and dotted key together)"
_TOO_MANY = f"more than {MAX_KEY_NAMES} keys and table names in one file"


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _parse_key(text: str, pos: int) -> tuple[list[str], int]:
    """Parse a (dotted) key starting at ``pos``; return its parts and the position after it."""
    parts: list[str] = []
    while True:
        while pos < len(text) and text[pos] in " \t":
            pos += 1
        if pos < len(text) and text[pos] in "\"'":
            quote = text[pos]
            end = pos + 1
            while end < len(text) and text[end] != quote:
                end += 2 if quote == '"' and text[end] == "\\" else 1
            raw = text[pos + 1 : end]
            parts.append(_unescape(raw) if quote == '"' and "\\" in raw else raw)
            pos = end + 1
        else:
            match = _BARE_KEY.match(text, pos)
            if not match:
                return parts, pos
            parts.append(match.group(0))
            pos = match.end()
        while pos < len(text) and text[pos] in " \t":
            pos += 1
        if pos < len(text) and text[pos] == ".":
            if len(parts) > MAX_KEY_PARTS:
                raise _OverLimit(_TOO_LONG)
            pos += 1
            continue
        return parts, pos


class _OverLimit(Exception):
    """Raised inside one line's scan with the problem; :class:`KeyLines` adds the line number."""


def _unescape(raw: str) -> str:
    """A basic string's escapes; an invalid one is ``tomllib``'s to report, the raw text is kept here."""
    try:
        return raw.encode().decode("unicode_escape")
    except UnicodeDecodeError:
        return raw


class _ValueScanner:
    """Tracks whether the scanner is inside a multi-line string or an open array/inline table."""

    def __init__(self) -> None:
        self.depth = 0
        self.open_string: str | None = None
        self.dots = 0
        """Dots since the last ``{``, ``,`` or ``=``: the parts of a dotted key inside an inline table."""

    @property
    def inside_value(self) -> bool:
        return self.depth > 0 or self.open_string is not None

    def feed(self, text: str) -> None:
        i = 0
        while i < len(text):
            if self.open_string is not None:
                end = self._string_end(text, i, self.open_string)
                if end < 0:
                    return
                i, self.open_string = end, None
                continue
            ch = text[i]
            if ch == "#":
                return
            if ch in "\"'":
                delim = ch * 3 if text.startswith(ch * 3, i) else ch
                end = self._string_end(text, i + len(delim), delim)
                if end < 0:
                    # Only triple-quoted strings may continue on the next line.
                    self.open_string = delim if len(delim) == 3 else None
                    return
                i = end
                continue
            if ch in "[{":
                self.depth += 1
                if self.depth > MAX_NESTING:
                    raise _OverLimit(_TOO_DEEP)
            elif ch in "]}":
                self.depth = max(0, self.depth - 1)
            if ch == ".":
                self.dots += 1
                if self.dots >= MAX_KEY_PARTS:
                    raise _OverLimit(_TOO_LONG)
            elif ch in "{,=":
                self.dots = 0
            i += 1

    @staticmethod
    def _string_end(text: str, i: int, delim: str) -> int:
        """The index just past the closing ``delim``, or -1 when the string goes on past this line."""
        while i < len(text):
            if delim[0] == '"' and text[i] == "\\":
                i += 2
                continue
            if text.startswith(delim, i):
                end = i + len(delim)
                # A triple-quoted string may end with up to two extra quote characters.
                while len(delim) == 3 and end < len(text) and text[end] == delim[0] and end - i < 5:
                    end += 1
                return end
            i += 1
        return -1


class KeyLines:
    """Maps key paths (as pydantic reports them) to the 1-based line where they are written."""

    def __init__(self, text: str) -> None:
        """Scan ``text``; raises :class:`ShapeLimitExceeded` for a document past one of the limits."""
        self._lines: dict[KeyPath, int] = {}
        self._names = 0
        self._scan(text)

    def _record(self, path: KeyPath, line: int) -> None:
        self._lines.setdefault(path, line)

    def _scan(self, text: str) -> None:
        table: KeyPath = ()
        array_counts: dict[KeyPath, int] = {}
        values = _ValueScanner()
        for number, line in enumerate(text.splitlines(), start=1):
            try:
                table = self._scan_line(line, number, table, array_counts, values)
            except _OverLimit as exc:
                raise ShapeLimitExceeded(number, str(exc)) from None

    def _scan_line(
        self, line: str, number: int, table: KeyPath, array_counts: dict[KeyPath, int], values: _ValueScanner
    ) -> KeyPath:
        """Record the keys ``line`` writes; returns the table the following lines are in."""
        if values.inside_value:
            values.feed(line)
            return table
        stripped = line.lstrip()
        if stripped.startswith("[["):
            parts, _ = _parse_key(stripped, 2)
            key = self._resolve(parts[:-1], array_counts) + tuple(parts[-1:])
            index = array_counts.get(key, -1) + 1
            array_counts[key] = index
            table = (*key, index)
            self._record_prefixes(table, number)
        elif stripped.startswith("["):
            table = self._resolve(_parse_key(stripped, 1)[0], array_counts)
            self._record_prefixes(table, number)
        elif stripped and not stripped.startswith("#"):
            parts, pos = _parse_key(stripped, 0)
            if parts and stripped[pos : pos + 1] == "=":
                self._record_prefixes((*table, *parts), number, start=len(table))
                values.dots = 0
                values.feed(stripped[pos + 1 :])
        return table

    def _record_prefixes(self, path: KeyPath, number: int, start: int = 0) -> None:
        """Record every prefix of ``path`` longer than ``start`` parts (a key's tables included)."""
        if len(path) > MAX_KEY_PARTS:
            raise _OverLimit(_TOO_LONG)
        self._names += len(path) - max(start, 0)
        if self._names > MAX_KEY_NAMES:
            raise _OverLimit(_TOO_MANY)
        for i in range(max(start, 0) + 1, len(path) + 1):
            self._record(path[:i], number)

    @staticmethod
    def _resolve(parts: list[str], array_counts: dict[KeyPath, int]) -> KeyPath:
        """Insert the current index after each part that names an array of tables."""
        resolved: KeyPath = ()
        for part in parts:
            resolved = (*resolved, part)
            if resolved in array_counts:
                resolved = (*resolved, array_counts[resolved])
        return resolved

    def line_for(self, path: Sequence[str | int]) -> int | None:
        """The line of ``path``, or of its closest written ancestor (a missing key: its table)."""
        key = tuple(path)
        while key:
            if key in self._lines:
                return self._lines[key]
            key = key[:-1]
        return None
