"""Baseline JSON files that checks keep between runs: read and written one way, errors say where."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lr_ci.errors import LrCiError


def read_json(path: Path, what: str, schema: str | None = None) -> Any:
    """``path``'s JSON; a missing, unreadable or invalid file (or another ``schema``) is exit 2 naming it."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LrCiError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise LrCiError(f"{path}: the {what} is not valid JSON: {exc}") from None
    if schema is not None and (not isinstance(document, dict) or document.get("schema") != schema):
        raise LrCiError(f"{path}: not an lr-ci {what} (schema {schema})")
    return document


def write_json(path: Path, document: Any, what: str) -> None:
    """Sorted keys and a final newline: the file diffs and merges cleanly when it is committed."""
    try:
        path.write_text(json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n", "utf-8")
    except OSError as exc:
        raise LrCiError(f"{path}: cannot write the {what}: {exc.strerror or exc}") from None
