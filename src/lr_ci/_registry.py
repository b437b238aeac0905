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
    from collections.abc import Callable

    import click

    from lr_ci.github.spec import ActionSpec

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
    action: Callable[[], ActionSpec] | None = None
    """What its GitHub Action, ``actions/<name>/action.yml``, is made of (None: a command for a person at
    a terminal); a function, so that the data is built only by the actions' code and their generator."""

    validate: str | None = None
    """``module:attribute`` of the check's cross-table validation, for ``lr-ci config check``: a function
    ``(config, tables) -> list[SettingError]`` given the parsed :class:`~lr_ci.config.ConfigFile` and
    every table's validated settings (None for a table with errors of its own), returning what needs more
    than one table's model to see (a name another table must define, the table's defaults applied to each
    entry). The check's own run calls the same function, so both report the same problems in the same
    words."""

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

    def load_action(self) -> ActionSpec | None:
        return self.action() if self.action else None

    def load_settings(self) -> Any:
        return _load(self.settings) if self.settings else None


def _load(target: str) -> Any:
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


# The actions' data, built only when the actions' code asks (see CheckSpec.action).


def _secrets_action() -> ActionSpec:
    from lr_ci.github.spec import ActionInput, ActionSpec

    return ActionSpec(
        description="Find secrets in a PR's or push's commits (default), the working tree, or all "
        "history, with annotations on the lines.",
        icon="lock",
        color="red",
        inputs=(
            ActionInput(
                "Scan every commit reachable from every ref (for scheduled runs) instead of this "
                "event's commits.",
                option="--history",
            ),
            ActionInput(
                "In a shallow checkout, fetch the history the scan needs instead of failing.",
                option="--deepen",
            ),
        ),
        args=ActionInput(
            "Extra arguments for `lr-ci secrets` (e.g. a path, or --range BASE..HEAD), split like a "
            "shell would."
        ),
        outputs=(
            ("commits-scanned", "Number of commits scanned."),
            ("files-scanned", "Number of working-tree files scanned."),
        ),
        working_directory="Directory to run the scan in.",
        fail="Fail the step when secrets are found. A scan that cannot run always fails it.",
        upload_sarif=True,
    )


def _smoke_action() -> ActionSpec:
    from lr_ci.github.spec import ActionInput, ActionSpec

    return ActionSpec(
        description="Post-deploy smoke tests: run the [smoke] flows of lr-ci.toml against a live "
        "URL, one JUnit case per step.",
        icon="activity",
        color="green",
        inputs=(
            ActionInput("Where the deployment answers (else [smoke] base_url).", option="--base-url"),
            ActionInput(
                "First poll the version endpoint until it reports this version (the new release).",
                option="--wait-for-version",
            ),
        ),
        args=ActionInput(
            "Extra arguments for `lr-ci smoke` (e.g. --flow login --resolve host:ip), split like a "
            "shell would."
        ),
        outputs=(
            ("flows-passed", "Number of flows that passed."),
            ("flows-failed", "Number of flows that failed."),
        ),
        report="Path of the JSON report (timings per step).",
        findings="Number of failed steps.",
        fail="Fail the step when a flow fails. A run that cannot start always fails it.",
    )


def _p95_action() -> ActionSpec:
    from lr_ci.github.spec import ActionInput, ActionSpec

    return ActionSpec(
        description="Staging latency gate: load the baseline and candidate deployments with locust "
        "and fail when a core route's p95 regresses by more than 20% or passes its budget.",
        icon="trending-up",
        color="orange",
        inputs=(
            ActionInput(
                "URL of the baseline deployment (e.g. staging of main). Leave empty with baseline-file.",
                option="--baseline",
            ),
            ActionInput(
                "URL of the candidate deployment (e.g. the PR's preview).",
                option="--candidate",
                required=True,
            ),
            ActionInput(
                "A stored baseline (from --save-baseline) to compare the candidate with, instead of "
                "a baseline URL.",
                option="--baseline-file",
            ),
        ),
        args=ActionInput("Extra arguments for `lr-ci p95`, split like a shell would."),
        outputs=(("requested-rps", "Requests per second asked of each side."),),
        report="Path of the JSON report (p95 per route, ratios, intervals, samples).",
        findings="Number of failing routes.",
        fail="Fail the step on a regression. A run that cannot start always fails it.",
        extras="load",
    )


def _bundle_action() -> ActionSpec:
    from lr_ci.github.spec import ActionInput, ActionSpec

    return ActionSpec(
        description="Frontend bundle budget: compressed sizes against [bundle] budgets and against "
        "the base branch's sizes, plus secrets shipped in the build.",
        icon="package",
        color="blue",
        args=ActionInput(
            "Build folders, space-separated (default: the first found of dist, build, out, "
            ".next/static, public/build).",
            name="dirs",
        ),
        inputs=(
            ActionInput(
                "Sizes of the base branch's build (written by save-baseline there) to compare with.",
                option="--baseline",
                name="baseline-file",
            ),
            ActionInput(
                "Write this build's sizes to this file (on the base branch, then upload it as an artifact).",
                option="--save-baseline",
            ),
        ),
        outputs=(("files", "Number of files in the build."),),
        report="Path of the JSON report (sizes per group and file).",
        fail="Fail the step when a budget or the growth limit is exceeded.",
        baseline_artifact="sizes.json",
    )


def _uptime_action() -> ActionSpec:
    from lr_ci.github.spec import ActionInput, ActionSpec

    return ActionSpec(
        description="Uptime monitors from a schedule: one round of every [uptime] monitor, the alerts due "
        "sent, exit 1 while an incident is open (keep the state file in the Actions cache).",
        icon="heart",
        color="red",
        command=("uptime", "check", "--once"),
        inputs=(
            ActionInput(
                "The SQLite state file carried between runs (else [uptime] state).", option="--state"
            ),
            ActionInput(
                "Also open a GitHub issue per incident in this repository (needs GITHUB_TOKEN with "
                "issues: write).",
                option="--github-issues",
            ),
        ),
        args=ActionInput("Extra arguments for `lr-ci uptime check --once`, split like a shell would."),
        outputs=(
            ("open-incidents", "Number of monitors with an open incident."),
            ("undelivered", "Notifications not delivered yet (retried on the next run)."),
        ),
        report="Path of the JSON report (per monitor: ok, latency, status, error; deliveries).",
        findings="Number of findings (open incidents, a lost network, owed notifications).",
        fail="Fail the step while an incident is open. A run that cannot start always fails it.",
        extras="uptime",
    )


def _config_action() -> ActionSpec:
    from lr_ci.github.spec import ActionInput, ActionSpec

    return ActionSpec(
        description="Validate lr-ci.toml with lr-ci (unknown keys, wrong types, TOML syntax), with "
        "annotations on the lines.",
        icon="check-circle",
        color="green",
        command=("config", "check"),
        args=ActionInput(
            "Config files to validate, space-separated (default: the lr-ci.toml the working directory uses).",
            name="files",
        ),
        outputs=(("files-checked", "Number of config files validated."),),
        working_directory="Directory to run the check in.",
        fail="Fail the step when the config is invalid.",
    )


CHECKS: dict[str, CheckSpec] = {
    spec.name: spec
    for spec in (
        CheckSpec(
            name="secrets",
            summary="Find secrets in the working tree, staged files, a PR's commits or all history.",
            command="lr_ci.checks.secrets.cli:command",
            settings="lr_ci.checks.secrets.settings:SecretsSettings",
            action=_secrets_action,
        ),
        CheckSpec(
            name="smoke",
            summary="Run post-deploy smoke flows (homepage, login, a workflow) against a live URL.",
            command="lr_ci.checks.smoke.cli:command",
            settings="lr_ci.checks.smoke.settings:SmokeSettings",
            action=_smoke_action,
        ),
        CheckSpec(
            name="p95",
            summary="Gate on staging p95 latency: fail at +20% against a baseline or over budget.",
            command="lr_ci.checks.p95.cli:command",
            settings="lr_ci.checks.p95.settings:P95Settings",
            action=_p95_action,
        ),
        CheckSpec(
            name="bundle",
            summary="Check a frontend build's compressed sizes against budgets and the base branch.",
            command="lr_ci.checks.bundle.cli:command",
            settings="lr_ci.checks.bundle.settings:BundleSettings",
            action=_bundle_action,
        ),
        CheckSpec(
            name="uptime",
            summary="Uptime monitors: HTTP, login flow, SMTP, TLS; an alert after N failures in a window.",
            command="lr_ci.checks.uptime.cli:command",
            settings="lr_ci.checks.uptime.settings:UptimeSettings",
            action=_uptime_action,
            validate="lr_ci.checks.uptime.settings:config_problems",
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
            action=_config_action,
        ),
    )
}


def with_actions() -> list[CheckSpec]:
    """The entries that have a GitHub Action, sorted by name."""
    return [CHECKS[name] for name in sorted(CHECKS) if CHECKS[name].action is not None]


def names(kind: Kind) -> list[str]:
    """The registered names of one kind, sorted (``--help`` lists each kind in its own section)."""
    return sorted(name for name, spec in CHECKS.items() if spec.kind == kind)


def settings_tables() -> dict[str, str]:
    """Table name -> settings model target, for every check that reads a table of ``lr-ci.toml``."""
    return {name: spec.settings for name, spec in CHECKS.items() if spec.settings}


def settings_validators() -> dict[str, str]:
    """Table name -> ``module:attribute`` of its cross-table validation (:attr:`CheckSpec.validate`)."""
    return {name: spec.validate for name, spec in CHECKS.items() if spec.settings and spec.validate}


def settings_validator(name: str) -> Any:
    """The cross-table validation of check ``name`` (imported on first use)."""
    target = CHECKS[name].validate
    assert target is not None, name
    return _load(target)


def settings_model(name: str) -> Any:
    """The settings model of check ``name`` (imported on first use)."""
    return CHECKS[name].load_settings()
