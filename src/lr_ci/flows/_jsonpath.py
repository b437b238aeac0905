"""The JSON path subset smoke tests need: ``$.invoices[0].id``, ``$['odd key']``, ``count``."""

from __future__ import annotations

import re
from typing import Any

_TOKEN = re.compile(r"\.?([A-Za-z_][\w-]*)|\[(\d+)\]|\[(?:'([^']*)'|\"([^\"]*)\")\]")


class PathError(LookupError):
    pass


def steps(path: str) -> list[str | int]:
    text = path.strip()
    text = text[1:] if text.startswith("$") else text
    out: list[str | int] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise PathError(f"invalid JSON path {path!r} at {text[pos:]!r}")
        name, index, single, double = match.groups()
        out.append(int(index) if index is not None else (name or single or double or ""))
        pos = match.end()
    return out


def get(document: Any, path: str) -> Any:
    current = document
    for step in steps(path):
        in_list = isinstance(step, int) and isinstance(current, list) and -len(current) <= step < len(current)
        in_table = isinstance(step, str) and isinstance(current, dict) and step in current
        if not (in_list or in_table):
            raise PathError(f"{path} not found")
        current = current[step]
    return current
