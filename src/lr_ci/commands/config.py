"""``lr-ci config check`` and ``lr-ci config schema``.

``config check`` is a check like the others (it is the ``lr-config`` pre-commit hook): problems in the
files it is asked to validate are findings with file and line (exit 1), so they show up as annotations
and in SARIF. A file that cannot be read at all is exit 2.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from lr_ci._report_paths import report_path
from lr_ci._run import RunContext, run_check
from lr_ci.cli import global_options
from lr_ci.errors import ConfigError, LrCiError
from lr_ci.report import Finding, Location, Report, Severity

RULE = "config-invalid"
UNSET_RULE = "config-env-unset"
RUN_ENVIRONMENT_RULE = "config-run-environment"
MAX_LISTED_PROBLEMS = 1000
"""Problems listed per file: 49,000 unknown keys made 49,000 findings, 60 MB of reports and a 370 MB
peak; past this many, one more finding counts the rest (still a failure)."""


@click.group("config")
@global_options
def config_group() -> None:
    """Validate lr-ci.toml, or print its JSON Schema."""


@config_group.command("check")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@global_options
@click.pass_context
def check_command(ctx: click.Context, files: tuple[Path, ...]) -> None:
    """Validate FILES (default: the lr-ci.toml this directory uses)."""
    run_check(ctx, "config", lambda run: _check(run, files))


def _check(run: RunContext, files: tuple[Path, ...]) -> Report:
    from lr_ci.config import UnreadableConfigError, find_config_file, parse_config, validate_all

    targets: list[Path | None] = [*files] or [run.options.config or find_config_file(run.cwd)]
    report = Report(
        check="config",
        fail_at=Severity.HIGH,
        rules={
            RULE: "lr-ci.toml is not valid",
            UNSET_RULE: "an environment variable the config reads is not set here",
            RUN_ENVIRONMENT_RULE: "the config needs something at run time that is not given here",
        },
    )
    checked = 0
    for target in targets:
        if target is None:
            report.findings.append(
                Finding(
                    rule="config-defaults",
                    severity=Severity.INFO,
                    message="no lr-ci.toml found; every check runs on its built-in defaults",
                )
            )
            continue
        if not target.exists():
            raise LrCiError(f"{target}: no such file")
        checked += 1
        try:
            errors = validate_all(parse_config(target), run.redactor)
        except UnreadableConfigError:
            raise  # a directory, a device, a FIFO or a huge file: nothing to list, exit 2
        except ConfigError as exc:
            errors = [exc]
        path = report_path(target, run.cwd)
        report.findings += [_finding(e, path) for e in errors[:MAX_LISTED_PROBLEMS]]
        if len(errors) > MAX_LISTED_PROBLEMS:
            report.findings.append(
                Finding(
                    rule=RULE,
                    severity=Severity.HIGH,
                    message=f"{len(errors) - MAX_LISTED_PROBLEMS} more problems are not listed "
                    f"(the first {MAX_LISTED_PROBLEMS} are)",
                    location=Location(path=path),
                )
            )
    report.metrics["files_checked"] = checked
    return report


def _finding(error: ConfigError, path: str) -> Finding:
    """A problem of the file fails the check; one of this machine (an unset variable, a package or an
    option the run will need) is a warning: the file may be right for where the check runs."""
    from lr_ci.errors import RunEnvironmentError, UnsetVariableError

    message = f"{error.key}: {error.problem}" if error.key else error.problem
    rule = RULE
    if isinstance(error, UnsetVariableError):
        rule = UNSET_RULE
        message += " here (checks that read this table will need it at run time)"
    elif isinstance(error, RunEnvironmentError):
        rule = RUN_ENVIRONMENT_RULE
        message += " (here; the check's run will need it)"
    return Finding(
        rule=rule,
        severity=Severity.HIGH if rule == RULE else Severity.LOW,
        message=message,
        location=Location(path=path, line=error.line),
    )


@config_group.command("schema")
@global_options
def schema_command() -> None:
    """Print the JSON Schema of lr-ci.toml (for editor completion and validation)."""
    from lr_ci.config import json_schema

    click.echo(json.dumps(json_schema(), indent=2))
