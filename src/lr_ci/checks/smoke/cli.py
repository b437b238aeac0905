"""The ``lr-ci smoke`` command."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

import click

from lr_ci._run import RunContext, run_check
from lr_ci.cli import global_options
from lr_ci.report import Report

if TYPE_CHECKING:
    from lr_ci.checks.smoke.check import Request


class Overrides(TypedDict):
    """The options that replace a ``[smoke]`` setting (None: not given)."""

    base_url: str | None
    timeout_s: float | None
    run_timeout_s: float | None
    verify_tls: bool | None


@click.command("smoke")
@click.option("--base-url", metavar="URL", help="Where the deployment answers (else [smoke] base_url).")
@click.option("--flow", "flows", multiple=True, metavar="NAME", help="Run only this flow (repeatable).")
@click.option(
    "--wait-for-version", metavar="VERSION", help="First poll the version endpoint until it says VERSION."
)
@click.option(
    "--wait-timeout",
    type=float,
    default=300.0,
    show_default=True,
    metavar="SECONDS",
    help="How long --wait-for-version waits.",
)
@click.option(
    "--resolve", multiple=True, metavar="HOST:IP", help="Send HOST's requests to IP (before DNS moves)."
)
@click.option(
    "--timeout", type=float, metavar="SECONDS", help="Per-request timeout (else [smoke] timeout_s)."
)
@click.option(
    "--run-timeout", type=float, metavar="SECONDS", help="Whole-run timeout (else [smoke] run_timeout_s)."
)
@click.option(
    "--insecure", is_flag=True, help="Do not verify TLS certificates (staging with a self-signed one)."
)
@global_options
@click.pass_context
def command(
    ctx: click.Context,
    base_url: str | None,
    flows: tuple[str, ...],
    wait_for_version: str | None,
    wait_timeout: float,
    resolve: tuple[str, ...],
    timeout: float | None,
    run_timeout: float | None,
    insecure: bool,
) -> None:
    """Run the smoke flows of [smoke] against a live deployment (default: the homepage answers).

    One JUnit case per step; a failure says which flow and step, what was expected and what came back.
    """
    from lr_ci.checks.smoke.check import Request

    request = Request(
        flows=flows, wait_for_version=wait_for_version, wait_timeout_s=wait_timeout, resolve=resolve
    )
    overrides = Overrides(
        base_url=base_url or None,
        timeout_s=timeout,
        run_timeout_s=run_timeout,
        verify_tls=False if insecure else None,
    )
    run_check(ctx, "smoke", lambda run: _body(run, request, overrides))


def _option_problems(request: Request, overrides: Overrides) -> list[str]:
    """What is wrong with the options' values, each naming its option (lr-ci.toml's values were checked
    when it was read). Checked in the run, not by click, so that each is the contract's one line, exit 2."""
    from lr_ci.flows.model import MAX_TIMEOUT_S
    from lr_ci.flows.urls import check_http_url

    problems = []
    if overrides["base_url"] is not None:
        try:
            check_http_url(overrides["base_url"], "--base-url")
        except ValueError as exc:
            problems.append(str(exc))
    # Positive, finite, at most a day (click's float type lets NaN and -3 through).
    for option, seconds in (
        ("--timeout", overrides["timeout_s"]),
        ("--run-timeout", overrides["run_timeout_s"]),
        ("--wait-timeout", request.wait_timeout_s),
    ):
        if seconds is not None and not (0 < seconds <= MAX_TIMEOUT_S):  # also false for NaN
            problems.append(f"{option} {seconds!r}: expected a number of seconds above 0 and at most one day")
    return problems


def _body(run: RunContext, request: Request, overrides: Overrides) -> Report:
    from lr_ci.checks.smoke import check
    from lr_ci.checks.smoke.settings import SmokeSettings
    from lr_ci.errors import LrCiError
    from lr_ci.flows.urls import userinfo_credentials

    # Before anything can print it: a password in the URL's userinfo, and the Basic token httpx sends.
    for credential in userinfo_credentials(overrides["base_url"] or ""):
        run.redactor.add_credential(credential)
    problems = _option_problems(request, overrides)
    if problems:
        raise LrCiError(problems[0])
    settings = run.settings(SmokeSettings, overrides=overrides)
    return check.run(request, settings, on_secret=run.redactor.add_credential, redactor=run.redactor)
