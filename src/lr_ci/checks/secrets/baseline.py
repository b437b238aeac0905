"""Accepted findings: lr-ci's own baseline, and detect-secrets' ``.secrets.baseline`` for teams switching.

lr-ci's baseline keys an entry by its fingerprint (rule, path and a hash of the secret), never by line, so
edits that move a secret do not churn it; entries are sorted and carry no timestamp, so it merges cleanly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lr_ci._json_files import read_bounded, read_shaped, write_json
from lr_ci.errors import LrCiError

VERSION = 1
MAX_BASELINE_BYTES = 16 << 20
"""Either baseline, larger than this, is exit 2 before it is parsed (parsing takes about 7 times the file's
size). lr-ci writes at most 10,000 entries (a few MB); a detect-secrets baseline of 16 MiB lists about
50,000 secrets."""


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
    """Entries by fingerprint; a missing file is an empty baseline.

    Read strictly (:func:`~lr_ci._json_files.read_shaped`): the file is hand-edited and merged, and a field
    of another type (a number for a fingerprint, an object for a path) is exit 2 naming that field, not an
    internal error later or an entry that silently matches nothing.
    """
    if not path.is_file():
        return {}
    read_bounded(path, "secrets baseline", MAX_BASELINE_BYTES)
    from lr_ci.checks.secrets.baseline_shapes import BaselineShape

    data = read_shaped(path, "secrets baseline", BaselineShape)
    entries = [Entry(e["fingerprint"], e["rule"], e["path"], e.get("reason", "")) for e in data["entries"]]
    return {entry.fingerprint: entry for entry in entries}


def write_baseline(path: Path, entries: list[Entry]) -> None:
    """Sorted entries, no timestamp. Never through a symlink: a repository (a pull request) could point
    ``.lr-ci-secrets.json`` at any file of whoever runs ``lr-ci secrets baseline``, which would be
    overwritten."""
    if path.is_symlink():
        raise LrCiError(f"{path}: is a symlink; lr-ci does not write a baseline through one (remove it)")
    ordered = sorted(entries, key=lambda e: (e.path, e.rule, e.fingerprint))
    write_json(path, {"version": VERSION, "entries": [e.to_dict() for e in ordered]}, "secrets baseline")


def read_detect_secrets_baseline(path: Path) -> set[tuple[str, str]]:
    """(path, sha1 of the secret) of every entry not audited as a real secret (``is_secret: true``)."""
    if not path.is_file():
        return set()
    read_bounded(path, "detect-secrets baseline", MAX_BASELINE_BYTES)
    from lr_ci.checks.secrets.baseline_shapes import DetectSecretsShape

    data = read_shaped(path, "detect-secrets baseline", DetectSecretsShape)
    return {
        (filename, entry["hashed_secret"])
        for filename, entries in data.get("results", {}).items()
        for entry in entries
        if entry.get("is_secret") is not True
    }


def detect_secrets_hash(secret: str) -> str:
    """How detect-secrets identifies a secret in its baseline."""
    import hashlib  # lazy: the staged hook without findings never hashes

    return hashlib.sha1(secret.encode("utf-8", "surrogateescape")).hexdigest()  # noqa: S324
