"""The ``lr-ci init`` command."""

from __future__ import annotations

import click

from lr_ci._run import RunContext, run_check
from lr_ci.cli import global_options
from lr_ci.report import Report


@click.command("init")
@click.option(
    "--workflows", is_flag=True, help="Also write .github/workflows/lr-ci.yml and .pre-commit-config.yaml."
)
@click.option("--force", is_flag=True, help="Overwrite files that exist.")
@global_options
@click.pass_context
def command(ctx: click.Context, workflows: bool, force: bool) -> None:
    """Write a commented lr-ci.toml for this repository (bundler, web framework and baselines detected)."""
    run_check(ctx, "init", lambda run: _body(run, workflows, force))


def _body(run: RunContext, workflows: bool, force: bool) -> Report:
    from lr_ci._report_paths import repository_root
    from lr_ci.commands.init import check

    return check.run(repository_root(run.cwd) or run.cwd, workflows, force)
