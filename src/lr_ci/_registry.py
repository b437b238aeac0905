"""The list of checks and commands. Adding a check means adding one entry here; the rest is derived.

Entries name their modules as strings so that ``lr-ci --help`` can list every check without importing any:
start-up must stay fast because pre-commit runs lr-ci on every commit.

A *check* (``kind="check"``) judges something and returns a report (exit 0/1/2/3); a *command* helps a
person set lr-ci up or try it (``init``, ``demo``, ``config``): ``--help`` lists them apart, and their code
lives in ``lr_ci.commands`` instead of ``lr_ci.checks``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import click

Kind = Literal["check", "command"]


@dataclass(frozen=True)
class CheckSpec:
    name: str
    summary: str
    command: str
    """``module:attribute`` of the check's click command."""
    settings: str | None = None
    """``module:attribute`` of the pydantic model for the check's ``[name]`` table in ``lr-ci.toml``."""
    kind: Kind = "check"
    """``check`` or ``command`` (see the module's docstring)."""

    def load_command(self) -> click.Command:
        """The click command, imported now; an entry that names anything else is a bug in lr-ci (exit 3)."""
        import click

        command = _load(self.command)
        if not isinstance(command, click.Command):
            raise TypeError(
                f"registry entry {self.name!r}: {self.command} is a {type(command).__name__}, "
                "not a click command"
            )
        return command

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
            command="lr_ci.commands.init.cli:command",
            kind="command",
        ),
        CheckSpec(
            name="demo",
            summary="Run every check against the bundled sample ops app, and summarize what blocks a launch.",
            command="lr_ci.commands.demo.cli:command",
            kind="command",
        ),
        CheckSpec(
            name="config",
            summary="Validate lr-ci.toml, or print its JSON Schema.",
            command="lr_ci.commands.config:config_group",
            kind="command",
        ),
    )
}


def names(kind: Kind) -> list[str]:
    """The registered names of one kind, sorted (``--help`` lists each kind in its own section)."""
    return sorted(name for name, spec in CHECKS.items() if spec.kind == kind)


def settings_tables() -> dict[str, str]:
    """Table name -> settings model target, for every check that reads a table of ``lr-ci.toml``."""
    return {name: spec.settings for name, spec in CHECKS.items() if spec.settings}


def settings_model(name: str) -> Any:
    """The settings model of check ``name`` (imported on first use)."""
    return CHECKS[name].load_settings()
