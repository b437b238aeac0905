"""The ``lr-ci p95`` command."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import click

from lr_ci._run import GlobalOptions, RunContext, run_check
from lr_ci.cli import global_options
from lr_ci.report import Report


@click.command("p95")
@click.option(
    "--baseline", "baseline_url", metavar="URL", help="The baseline deployment (e.g. staging of main)."
)
@click.option("--candidate", "candidate_url", metavar="URL", help="The candidate (e.g. the PR's preview).")
@click.option("--baseline-file", type=click.Path(path_type=Path), help="Compare with a stored baseline.")
@click.option(
    "--save-baseline", type=click.Path(path_type=Path), help="Measure --candidate and store it here."
)
@click.option("--rate", type=float, help="Requests per second per side (else [p95] rate).")
@click.option("--rounds", type=int, help="Measured rounds per side (else [p95] rounds).")
@click.option("--round-seconds", type=float, help="Seconds per round (else [p95] round_seconds).")
@click.option("--workers", type=int, default=0, help="Spread the load over N local locust worker processes.")
@click.option("--master", is_flag=True, help="Be the master of locust workers started elsewhere.")
@click.option(
    "--expect-workers", type=int, default=1, show_default=True, help="With --master: wait for N workers."
)
@click.option("--master-port", type=int, default=5557, show_default=True, help="The master's port.")
@click.option(
    "--worker", "worker_mode", is_flag=True, help="Join a master (--master-host) as a locust worker."
)
@click.option(
    "--master-host", default="127.0.0.1", show_default=True, help="With --worker: the master to join."
)
@global_options
@click.pass_context
def command(
    ctx: click.Context,
    baseline_url: str | None,
    candidate_url: str | None,
    baseline_file: Path | None,
    save_baseline: Path | None,
    rate: float | None,
    rounds: int | None,
    round_seconds: float | None,
    workers: int,
    master: bool,
    expect_workers: int,
    master_port: int,
    worker_mode: bool,
    master_host: str,
) -> None:
    """Fail when a core route's p95 latency regresses by more than 20% or passes its budget.

    A/B by default (--baseline URL --candidate URL, rounds alternating between the two); or
    --save-baseline FILE on one deployment and --baseline-file FILE later. --workers N spreads the load
    over local locust workers; --master / --worker join a locust cluster. Needs `pip install lr-ci[load]`.
    """
    from lr_ci.checks.p95.check import Request

    config = ctx.ensure_object(GlobalOptions).config
    worker_command = (
        sys.executable,
        "-m",
        "lr_ci",
        *(("--config", str(config)) if config else ()),
        "p95",
        "--worker",
        "--master-host",
        "127.0.0.1",
    )
    request = Request(
        baseline_url,
        candidate_url,
        baseline_file,
        save_baseline,
        rate,
        rounds,
        round_seconds,
        workers,
        master,
        expect_workers,
        master_port,
        worker_command,
    )
    join = (master_host, master_port) if worker_mode else None
    run_check(ctx, "p95", lambda run: _body(run, request, join))


def _body(run: RunContext, request: object, join: tuple[str, int] | None) -> Report:
    from lr_ci.checks.p95 import check
    from lr_ci.checks.p95.settings import P95Settings
    from lr_ci.errors import LrCiError

    assert isinstance(request, check.Request)
    settings = run.settings(P95Settings)
    try:
        import locust  # noqa: F401 - imported first, so gevent patches the standard library before anything else
    except ImportError:
        raise LrCiError("the p95 check needs locust: pip install 'lr-ci[load]'") from None
    if join is not None:
        return check.worker(settings, *join)
    login = _login(run, settings.login_flow) if settings.login_flow else None
    sides = 1 if request.baseline_file or request.save_baseline else 2
    progress = run.progress("load rounds", sides * (settings.rounds + 1))
    try:
        return check.run(request, settings, login, progress)
    finally:
        progress.close()


def _login(run: RunContext, flow: str) -> Callable[[str], tuple[dict[str, str], dict[str, str]]]:
    from lr_ci import _http
    from lr_ci.checks.smoke.runner import RunOptions, run_flow
    from lr_ci.checks.smoke.settings import SmokeSettings
    from lr_ci.errors import LrCiError

    smoke = run.settings(SmokeSettings, table="smoke")
    if flow not in smoke.flows:
        raise LrCiError(f"[p95] login_flow {flow!r}: no such flow in [smoke]")

    def login(url: str) -> tuple[dict[str, str], dict[str, str]]:
        options = RunOptions(
            base_url=url,
            client=_http.ClientOptions(timeout_s=smoke.timeout_s),
            on_secret=run.redactor.add_credential,
        )
        result = run_flow(smoke, flow, options)
        if not result.passed:
            failed = next(s for s in result.steps if s.status in ("fail", "error"))
            raise LrCiError(f"login flow {flow!r} failed on {url}: step {failed.name}: {failed.message}")
        return result.cookies, result.values

    return login
