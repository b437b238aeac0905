"""``[secrets]`` in lr-ci.toml. Everything has a default: the scanner needs no config at all.

A plain frozen dataclass (see :mod:`lr_ci.config`): pydantic loads only when the table is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from lr_ci.config import SETTINGS_CONFIG
from lr_ci.errors import FieldError
from lr_ci.report import Severity


@dataclass(frozen=True, kw_only=True)
class SecretsSettings:
    __pydantic_config__ = SETTINGS_CONFIG

    fail_on: Severity = Severity.MEDIUM
    """Findings at or above this severity fail the check (test-mode keys are low)."""
    exclude: list[str] = field(default_factory=list)
    """Glob patterns of paths never scanned (gitignore-like: 'docs/**', '*.snap')."""
    disable_rules: list[str] = field(default_factory=list)
    """Rule ids to switch off (`lr-ci secrets --list-rules` shows them)."""
    max_file_bytes: int = 512 << 20
    """Larger files (and blobs in history) are not read: the report names each, `on_skipped` decides.
    Smaller files of any size are scanned in overlapping 4 MiB windows, in bounded memory."""
    on_skipped: Literal["warn", "fail"] | None = None
    """What a file left unread (larger than max_file_bytes) does: "fail" is exit 2 naming it (a partial
    scan), "warn" lists it and exits as the findings say. Default: "fail" when CI=true or
    GITHUB_ACTIONS=true is set, "warn" elsewhere."""
    baseline: str = ".lr-ci-secrets.json"
    """Accepted findings, written by `lr-ci secrets baseline`."""
    detect_secrets_baseline: str = ".secrets.baseline"
    """A detect-secrets baseline whose entries (unless audited as real secrets) are honoured."""

    def __post_init__(self) -> None:
        if self.max_file_bytes <= 0:
            raise FieldError("max_file_bytes", "must be a positive number of bytes")
        if self.disable_rules:
            from lr_ci.secret_rules.engine import default_rules

            known = default_rules().ids
            unknown = [rule for rule in self.disable_rules if rule not in known]
            if unknown:
                raise FieldError(
                    "disable_rules",
                    f"unknown rule id {unknown[0]!r} (lr-ci secrets --list-rules shows them)",
                )

    @property
    def skipped_policy(self) -> str:
        """``on_skipped``, or its default for where lr-ci runs: in CI an unread file is a partial scan."""
        if self.on_skipped is not None:
            return self.on_skipped
        import os

        from lr_ci.github import in_actions

        in_ci = os.environ.get("CI", "").lower() == "true" or in_actions()
        return "fail" if in_ci else "warn"
