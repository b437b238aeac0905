"""Accepted findings: lr-ci's own baseline, and detect-secrets' ``.secrets.baseline`` for teams switching.

lr-ci's baseline keys an entry by its fingerprint (rule, path and a hash of the secret), never by line, so
edits that move a secret do not churn it; entries are sorted and carry no timestamp, so it merges cleanly.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from lr_ci._documents import read_json, write_json
from lr_ci.errors import LrCiError

VERSION = 1


@dataclass(frozen=True)
class Entry:
    fingerprint: str
    rule: str
    path: str
    reason: str = ""

    def to_dict(self) -> dict[str, str]:
        out = {"fingerprint": self.fingerprint, "rule": self.rule, "path": self.path}
        if self.reason:
            out["reason"] = self.reason
        return out


def read_baseline(path: Path) -> dict[str, Entry]:
    """Entries by fingerprint; a missing file is an empty baseline."""
    if not path.is_file():
        return {}
    data = read_json(path, "secrets baseline")
    try:
        entries = [
            Entry(e["fingerprint"], e["rule"], e["path"], e.get("reason", "")) for e in data["entries"]
        ]
    except (KeyError, TypeError) as exc:
        raise LrCiError(f"{path}: not an lr-ci secrets baseline (missing {exc})") from None
    return {entry.fingerprint: entry for entry in entries}


def write_baseline(path: Path, entries: list[Entry]) -> None:
    ordered = sorted(entries, key=lambda e: (e.path, e.rule, e.fingerprint))
    write_json(path, {"version": VERSION, "entries": [e.to_dict() for e in ordered]}, "secrets baseline")


def read_detect_secrets_baseline(path: Path) -> set[tuple[str, str]]:
    """(path, sha1 of the secret) of every entry not audited as a real secret (``is_secret: true``)."""
    if not path.is_file():
        return set()
    data = read_json(path, "detect-secrets baseline")
    results = data.get("results", {}) if isinstance(data, dict) else {}
    return {
        (filename, entry["hashed_secret"])
        for filename, entries in results.items()
        for entry in entries
        if isinstance(entry, dict) and "hashed_secret" in entry and entry.get("is_secret") is not True
    }


def detect_secrets_hash(secret: str) -> str:
    """How detect-secrets identifies a secret in its baseline."""
    return hashlib.sha1(secret.encode("utf-8", "surrogateescape")).hexdigest()  # noqa: S324
