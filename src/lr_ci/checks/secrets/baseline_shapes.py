"""The shapes a baseline file must have: lr-ci's own and detect-secrets' ``.secrets.baseline``.

Validated strictly (pydantic, through ``_json_files.read_shaped``): a broken file is exit 2 naming the
field. Apart from ``baseline.py`` so that the pre-commit hook pays for ``typing_extensions`` only when a
baseline is there to read.
"""

from __future__ import annotations

from typing_extensions import NotRequired, TypedDict


class EntryShape(TypedDict):
    fingerprint: str
    rule: str
    path: str
    reason: NotRequired[str]


class BaselineShape(TypedDict):
    version: NotRequired[int]
    entries: list[EntryShape]


class DetectSecretsEntry(TypedDict):
    hashed_secret: str
    is_secret: NotRequired[bool | None]


class DetectSecretsShape(TypedDict):
    results: NotRequired[dict[str, list[DetectSecretsEntry]]]
