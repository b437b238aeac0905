"""The ``lr-ci demo`` command."""

from __future__ import annotations

from pathlib import Path

import click

from lr_ci._run import RunContext, run_check
from lr_ci.cli import global_options
from lr_ci.report import Report


@click.command("demo")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("lr-ci-demo-reports"),
    show_default=True,
    help="Where the reports (JSON, markdown, JUnit, SARIF) are left.",
)
@global_options
@click.pass_context
def command(ctx: click.Context, out: Path) -> None:
    """Run every check against the bundled sample ops app, on loopback, and summarize what blocks a launch."""
    run_check(ctx, "demo", lambda run: _body(run, out))


def _body(run: RunContext, out: Path) -> Report:
    from lr_ci.commands.demo.runner import run as run_demo

    def say(text: str) -> None:
        if not run.options.quiet:
            click.echo(f"▸ {text}", err=True)

    report = run_demo(out.resolve(), say)
    say(f"done in {report.metrics['seconds']} s; reports in {report.metrics['reports']}")
    return report
