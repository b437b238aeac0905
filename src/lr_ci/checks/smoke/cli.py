"""The ``lr-ci smoke`` command."""

from __future__ import annotations

import click

from lr_ci._run import RunContext, run_check
from lr_ci.cli import global_options
from lr_ci.report import Report


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
        base_url, flows, wait_for_version, wait_timeout, resolve, timeout, run_timeout, insecure
    )
    run_check(ctx, "smoke", lambda run: _body(run, request))


def _body(run: RunContext, request: object) -> Report:
    from lr_ci.checks.smoke import check
    from lr_ci.checks.smoke.settings import SmokeSettings
    from lr_ci.flows.runner import FlowOrderError, check_uses, flow_order

    assert isinstance(request, check.Request)
    settings = run.settings(SmokeSettings)
    try:
        check_uses(settings.flows)
    except FlowOrderError as exc:
        # At the line of the ``use`` that cannot be followed, like every other config error.
        where = ("smoke", "flows", exc.flow, "use") if exc.flow is not None else ("smoke", "flows")
        raise run.config.error(where, str(exc)) from None
    for name in settings.flows:
        chain = flow_order(settings.flows, name)
        if not any(settings.flows[f].steps or settings.flows[f].finally_ for f in chain):
            # It would pass having sent nothing: a smoke test that tests nothing is a mistake, not a pass.
            raise run.config.error(
                ("smoke", "flows", name), f"flow {name!r} has no steps (nor does any flow it uses)"
            )
    report, results = check.run_with_results(
        request, settings, on_secret=run.redactor.add_credential, redactor=run.redactor
    )
    for flow in results:
        for step in flow.steps:
            if step.config_error:
                # The flows ran to the end (finally steps too); the step could not be done as configured.
                raise run.config.error((*step.where, "submit_form"), step.message)
    return report
