"""``[secrets]`` in lr-ci.toml. Everything has a default: the scanner needs no config at all."""

from __future__ import annotations

from pydantic import Field, field_validator

from lr_ci.config import CheckSettings
from lr_ci.report import Severity


class SecretsSettings(CheckSettings):
    fail_on: Severity = Field(
        Severity.MEDIUM, description="Findings at or above this severity fail the check (low: test keys)."
    )
    exclude: list[str] = Field(
        default_factory=list,
        description="Glob patterns of paths never scanned (gitignore-like: 'docs/**', '*.snap').",
    )
    disable_rules: list[str] = Field(default_factory=list, description="Rule ids to switch off.")
    max_file_bytes: int = Field(5_000_000, gt=0, description="Larger files and blobs are skipped (counted).")
    baseline: str = Field(
        ".lr-ci-secrets.json", description="Accepted findings, written by `lr-ci secrets baseline`."
    )
    detect_secrets_baseline: str = Field(
        ".secrets.baseline", description="A detect-secrets baseline whose audited entries are honoured."
    )

    @field_validator("disable_rules")
    @classmethod
    def _known_rules(cls, value: list[str]) -> list[str]:
        from lr_ci.checks.secrets.engine import default_rules

        known = default_rules().ids
        unknown = [rule for rule in value if rule not in known]
        if unknown:
            raise ValueError(f"unknown rule id {unknown[0]!r} (lr-ci secrets --list-rules shows them)")
        return value
