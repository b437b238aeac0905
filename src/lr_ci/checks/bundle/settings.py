"""``[bundle]`` in lr-ci.toml: budgets on compressed sizes, and how much growth is too much."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from lr_ci.config import SETTINGS_CONFIG
from lr_ci.errors import FieldError

Compression = Literal["gzip", "brotli", "none"]


@dataclass(frozen=True, kw_only=True)
class Budget:
    __pydantic_config__ = SETTINGS_CONFIG

    files: str | list[str]
    """Glob(s) on stable names (hashes removed), e.g. "assets/*.js"; the matches are summed as one group."""
    name: str | None = None
    limit: str | None = None
    """The most the group may weigh, compressed: "250 kB", "1 MiB", "900 B"."""
    compression: Compression | None = None
    """gzip (level 9), brotli (quality 11) or none; default: [bundle] compression."""
    per_file: bool = False
    """Apply the limit to each matching file instead of their sum."""
    max_growth: float | None = None


@dataclass(frozen=True, kw_only=True)
class BundleSettings:
    __pydantic_config__ = SETTINGS_CONFIG

    dirs: list[str] = field(default_factory=list)
    """Build output folders (default: the first found of dist, build, out, .next/static, public/build)."""
    compression: Compression = "gzip"
    budgets: list[Budget] = field(default_factory=list)
    """Default: one group for all JavaScript, one for all CSS (growth only, no limit)."""
    max_growth: float = 0.10
    """Against the baseline, a group fails when it grows by more than this fraction..."""
    min_change: str = "1 kB"
    """...and by more than this many bytes, so tiny changes stay quiet."""
    hash_pattern: str | None = None
    """A regular expression for your bundler's hashes, removed from names (the common ones are known)."""
    scan_secrets: bool = True
    """Scan the built files (and the sources inside source maps) for secrets shipped to every browser."""
    source_maps: Literal["warn", "allow"] = "warn"
    """Source maps in the output would be deployed publicly: warn, or allow them."""

    def __post_init__(self) -> None:
        import re

        from lr_ci.checks.bundle.sizes import parse_size

        if self.hash_pattern is not None:
            try:
                re.compile(self.hash_pattern)
            except (re.error, RecursionError, OverflowError) as exc:
                raise FieldError("hash_pattern", f"not a regular expression: {exc}") from None

        for value, key in [(self.min_change, "min_change"), *((b.limit, "budgets") for b in self.budgets)]:
            if value is not None:
                try:
                    parse_size(value)
                except ValueError as exc:
                    raise FieldError(key, str(exc)) from None
