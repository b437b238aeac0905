"""The list of checks. Adding a check means adding one entry here; nothing else needs to know about it.

Entries name their modules as strings so that ``lr-ci --help`` can list every check without importing any:
start-up must stay fast because pre-commit runs lr-ci on every commit.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CheckSpec:
    name: str
    summary: str
    command: str
    """``module:attribute`` of the check's click command."""
    settings: str | None = None
    """``module:attribute`` of the pydantic model for the check's ``[name]`` table in ``lr-ci.toml``."""

    def load_command(self) -> Any:
        return _load(self.command)

    def load_settings(self) -> Any:
        return _load(self.settings) if self.settings else None


def _load(target: str) -> Any:
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


CHECKS: dict[str, CheckSpec] = {
    spec.name: spec
    for spec in (
        CheckSpec(
            name="secrets",
            summary="Find secrets in the working tree, staged files, a PR's commits or all history.",
            command="lr_ci.checks.secrets.cli:command",
            settings="lr_ci.checks.secrets.settings:SecretsSettings",
        ),
        CheckSpec(
            name="smoke",
            summary="Run post-deploy smoke flows (homepage, login, a workflow) against a live URL.",
            command="lr_ci.checks.smoke.cli:command",
            settings="lr_ci.checks.smoke.settings:SmokeSettings",
        ),
        CheckSpec(
            name="p95",
            summary="Gate on staging p95 latency: fail at +20% against a baseline or over budget.",
            command="lr_ci.checks.p95.cli:command",
            settings="lr_ci.checks.p95.settings:P95Settings",
        ),
        CheckSpec(
            name="bundle",
            summary="Check a frontend build's compressed sizes against budgets and the base branch.",
            command="lr_ci.checks.bundle.cli:command",
            settings="lr_ci.checks.bundle.settings:BundleSettings",
        ),
        CheckSpec(
            name="init",
            summary="Write a commented lr-ci.toml for this repository (--workflows: CI and hooks too).",
            command="lr_ci.checks.init.cli:command",
        ),
        CheckSpec(
            name="demo",
            summary="Run every check against the bundled sample ops app, and summarize what blocks a launch.",
            command="lr_ci.checks.demo.cli:command",
        ),
        CheckSpec(
            name="config",
            summary="Validate lr-ci.toml, or print its JSON Schema.",
            command="lr_ci.config_cli:config_group",
        ),
    )
}


def settings_tables() -> dict[str, str]:
    """Table name -> settings model target, for every check that reads a table of ``lr-ci.toml``."""
    return {name: spec.settings for name, spec in CHECKS.items() if spec.settings}


def settings_model(name: str) -> Any:
    """The settings model of check ``name`` (imported on first use)."""
    return CHECKS[name].load_settings()
