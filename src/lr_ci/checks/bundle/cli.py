"""The ``lr-ci bundle`` command."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

import click

from lr_ci._run import RunContext, run_check
from lr_ci.cli import global_options
from lr_ci.report import Report

if TYPE_CHECKING:
    from lr_ci.checks.bundle.check import Request


class Overrides(TypedDict):
    """The options that replace a ``[bundle]`` setting (None: not given)."""

    dirs: list[str] | None


@click.command("bundle")
@click.argument("dirs", nargs=-1)
@click.option(
    "--baseline", type=click.Path(path_type=Path), help="Sizes of the base branch (--save-baseline)."
)
@click.option("--save-baseline", type=click.Path(path_type=Path), help="Write this build's sizes here.")
@global_options
@click.pass_context
def command(
    ctx: click.Context, dirs: tuple[str, ...], baseline: Path | None, save_baseline: Path | None
) -> None:
    """Check a frontend build's compressed sizes against budgets and the base branch's build.

    DIRS default to the first of dist, build, out, .next/static, public/build found here.
    """
    from lr_ci.checks.bundle.check import Request

    request = Request(baseline=baseline, save_baseline=save_baseline)
    overrides = Overrides(dirs=list(dirs) or None)
    run_check(ctx, "bundle", lambda run: _body(run, request, overrides))


def _body(run: RunContext, request: Request, overrides: Overrides) -> Report:
    from lr_ci.checks.bundle import check
    from lr_ci.checks.bundle.settings import BundleSettings

    settings = run.settings(BundleSettings, overrides=overrides)
    with run.progress("reading files") as progress:
        return check.run(request, settings, run.cwd, progress)
