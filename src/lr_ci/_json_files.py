"""JSON files lr-ci reads and writes: the baselines checks keep between runs (secrets, bundle sizes, p95
latencies) and the GitHub event payload, read and written one way, errors say where.

A baseline is input like any other: it may be hand-edited, truncated, from another tool, or hostile. So it
is read with a size limit (a huge file or ``/dev/zero`` is exit 2, not an out-of-memory), and a check that
passes the ``shape`` it expects gets a document whose every field has the right type, or exit 2 naming the
file and the field (``routes.home.rounds.0.counts: Input should be a valid list``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

from lr_ci.errors import LrCiError

MAX_DOCUMENT_BYTES = 64 << 20
"""A baseline larger than this is not one lr-ci wrote (a history of thousands of files is a few MB)."""

ShapeT = TypeVar("ShapeT")


def read_bounded(path: Path, what: str, limit: int) -> bytes:
    """At most ``limit`` bytes of ``path``; more is exit 2 (also for endless files such as ``/dev/zero``)."""
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise LrCiError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise LrCiError(f"{path}: the {what} is larger than {limit // (1 << 20)} MiB")
    return data


def read_json(path: Path, what: str, schema: str | None = None) -> Any:
    """``path``'s JSON; a missing, unreadable, huge or invalid file, or another ``schema``: exit 2."""
    data = read_bounded(path, what, MAX_DOCUMENT_BYTES)
    try:
        document = json.loads(data.decode("utf-8"))
    except RecursionError:
        raise LrCiError(f"{path}: the {what} is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise LrCiError(f"{path}: the {what} is not valid JSON: {exc}") from None
    if schema is not None and (not isinstance(document, dict) or document.get("schema") != schema):
        raise LrCiError(f"{path}: not an lr-ci {what} (schema {schema})")
    return document


def read_shaped(path: Path, what: str, shape: type[ShapeT], schema: str | None = None) -> ShapeT:
    """:func:`read_json`, then validated against ``shape`` strictly: a dataclass, or a
    ``typing_extensions.TypedDict`` (pydantic needs that one below Python 3.12) to get plain dicts back.

    Strict: ``true`` is not a number and ``"3"`` is not 3, so a wrong type is reported where it is rather
    than failing later as an internal error, or worse, being read as something it is not.
    """
    from pydantic import TypeAdapter, ValidationError

    document = read_json(path, what, schema)
    try:
        validated: ShapeT = TypeAdapter(shape).validate_python(document, strict=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise LrCiError(f"{path}: the {what} is not valid: {where}: {first['msg']}") from None
    return validated


def write_json(path: Path, document: Any, what: str) -> None:
    """Sorted keys and a final newline: the file diffs and merges cleanly when it is committed.

    Written as every file lr-ci is asked to write (:func:`lr_ci.output.write_file`): never through a
    symbolic link a repository planted, never hanging on a FIFO.
    """
    from lr_ci.output import write_file

    write_file(path, json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n", f"the {what}")
