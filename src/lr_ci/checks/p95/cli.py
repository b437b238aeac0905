"""The ``lr-ci p95`` command."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

import click

from lr_ci._run import GlobalOptions, RunContext, run_check
from lr_ci.cli import global_options
from lr_ci.report import Report

if TYPE_CHECKING:
    from lr_ci.checks.p95.check import Request


class Overrides(TypedDict):
    """The options that replace a ``[p95]`` setting (None: not given)."""

    baseline_url: str | None
    candidate_url: str | None
    rate: float | None
    rounds: int | None
    round_seconds: float | None


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
    "--master-bind",
    default="*",
    show_default=True,
    help="With --master: the address the master listens on (* is every interface; local --workers always "
    "use 127.0.0.1).",
)
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
    master_bind: str,
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
        baseline_file=baseline_file,
        save_baseline=save_baseline,
        workers=workers,
        master=master,
        expect_workers=expect_workers,
        master_port=master_port,
        worker_command=worker_command,
        master_bind=master_bind,
        join=(master_host, master_port) if worker_mode else None,
    )
    overrides = Overrides(
        baseline_url=baseline_url or None,
        candidate_url=candidate_url or None,
        rate=rate,
        rounds=rounds,
        round_seconds=round_seconds,
    )
    run_check(ctx, "p95", lambda run: _body(run, request, overrides))


def _option_problems(request: Request, overrides: Overrides) -> list[str]:
    """What is wrong with the options, each naming its option, checked against the bounds of ``[p95]``.

    Checked in the run (not by click) so that a bad value is the contract's one ``error:`` line, exit 2.
    """
    import ipaddress
    import math

    from lr_ci.checks.p95 import settings as bounds

    problems: list[str] = []

    def number(name: str, value: float | None, low: float, high: float, *, low_open: bool) -> None:
        if value is None:
            return
        above = value > low if low_open else value >= low
        if not (math.isfinite(value) and above and value <= high):
            side = "above" if low_open else "at least"
            problems.append(f"{name} {value!r}: must be a number {side} {low:g} and at most {high:g}")

    number("--rate", overrides["rate"], 0, bounds.MAX_RATE, low_open=True)
    number(
        "--round-seconds",
        overrides["round_seconds"],
        bounds.MIN_ROUND_SECONDS,
        bounds.MAX_SECONDS,
        low_open=True,
    )
    for name, count, low, high in (
        ("--rounds", overrides["rounds"], 1, bounds.MAX_ROUNDS),
        ("--workers", request.workers, 0, MAX_LOCAL_WORKERS),
        ("--expect-workers", request.expect_workers, 1, bounds.MAX_USERS),
        ("--master-port", request.master_port, 1, 65535),
    ):
        if count is not None and not low <= count <= high:
            problems.append(f"{name} {count}: must be a whole number from {low} to {high}")
    if request.master_bind != "*":
        try:
            ipaddress.ip_address(request.master_bind)
        except ValueError:
            problems.append(
                f"--master-bind {request.master_bind!r}: must be * or an IP address of this machine"
            )
    return problems


MAX_LOCAL_WORKERS = 256
"""Local worker processes (about 60 MB each): more than a machine has cores is a mistake."""


def _body(run: RunContext, request: Request, overrides: Overrides) -> Report:
    from lr_ci.checks.p95 import check
    from lr_ci.checks.p95.settings import P95Settings
    from lr_ci.errors import LrCiError

    problems = _option_problems(request, overrides)
    if problems:
        raise LrCiError(problems[0])
    settings = run.settings(P95Settings, overrides=overrides)
    try:
        import locust  # noqa: F401 - imported first, so gevent patches the standard library before anything else
    except ImportError:
        raise LrCiError("the p95 check needs locust: pip install 'lr-ci[load]'") from None
    from lr_ci.checks.p95.load import CLUSTER_SECRET_ENV, watch_interrupts

    watch_interrupts()
    if os.environ.get(CLUSTER_SECRET_ENV):
        run.redactor.add_credential(os.environ[CLUSTER_SECRET_ENV])
    if request.join is not None:
        return check.worker(settings, *request.join)
    for url in (settings.baseline_url, settings.candidate_url):
        for credential in check.url_credentials(url or ""):
            run.redactor.add_credential(credential)
    login = None
    if settings.login_flow:
        from lr_ci.checks.smoke.settings import SmokeSettings

        smoke = run.settings(SmokeSettings, table="smoke")
        login = check.login_with(smoke, settings.login_flow, run.redactor)
    sides = 1 if request.baseline_file or request.save_baseline else 2
    with run.progress("load rounds", sides * (settings.rounds + 1)) as progress:
        return check.run(request, settings, login, progress)
