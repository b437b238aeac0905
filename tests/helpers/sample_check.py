"""A small check used by the core's tests: registered through the same registry entry as real checks."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

import click

from lr_ci._run import RunContext, run_check
from lr_ci.cli import global_options
from lr_ci.config import SETTINGS_CONFIG
from lr_ci.errors import LrCiError
from lr_ci.report import Case, Finding, Location, Report, Severity


@dataclass(frozen=True, kw_only=True)
class Route:
    __pydantic_config__ = SETTINGS_CONFIG
    path: str
    budget_ms: int = 300


@dataclass(frozen=True, kw_only=True)
class Nested:
    __pydantic_config__ = SETTINGS_CONFIG
    level: int = 1
    label: str = "x"


@dataclass(frozen=True, kw_only=True)
class SampleSettings:
    __pydantic_config__ = SETTINGS_CONFIG
    fail_on: Severity = Severity.LOW
    token: str | None = None
    """A token, usually from the environment."""
    count: int = 3
    routes: list[Route] = field(default_factory=list)
    nested: Nested = field(default_factory=Nested)


@dataclass(frozen=True, kw_only=True)
class Request:
    """What the command line asks beyond ``[sample]`` (``--count`` replaces ``count`` instead)."""

    findings: tuple[str, ...] = ()
    secret_env: str | None = None
    crash: bool = False
    cases: tuple[str, ...] = ()


@click.command("sample")
@click.option("--finding", "findings", multiple=True, help="SEVERITY:PATH:LINE to report.")
@click.option("--secret-env", help="Report the value of this environment variable as a found secret.")
@click.option("--crash", is_flag=True)
@click.option("--refuse", is_flag=True, help="Raise LrCiError (the input is wrong).")
@click.option("--hang", is_flag=True, help="Print 'ready' and sleep (for Ctrl-C tests).")
@click.option("--case", "cases", multiple=True, help="NAME:STATUS")
@click.option("--count", type=int, help="Replaces [sample] count.")
@global_options
@click.pass_context
def command(
    ctx: click.Context,
    findings: tuple[str, ...],
    secret_env: str | None,
    crash: bool,
    refuse: bool,
    hang: bool,
    cases: tuple[str, ...],
    count: int | None,
) -> None:
    """A sample check for tests."""
    if refuse:
        run_check(ctx, "sample", _refuse)
    if hang:
        run_check(ctx, "sample", _hang)
    request = Request(findings=findings, secret_env=secret_env, crash=crash, cases=cases)
    run_check(ctx, "sample", lambda run: _body(run, request, count=count))


def _refuse(run: RunContext) -> Report:
    raise LrCiError("the input is wrong")


def _hang(run: RunContext) -> Report:
    import sys
    import time

    print("ready", file=sys.stderr, flush=True)
    time.sleep(60)
    raise AssertionError("not interrupted")


def _body(run: RunContext, request: Request, *, count: int | None) -> Report:
    settings = run.settings(SampleSettings, overrides={"count": count})
    logging.getLogger("lr_ci.sample").debug("using token %s", settings.token)
    if request.crash:
        raise RuntimeError(f"boom with {settings.token}")
    report = Report(check="sample", fail_at=settings.fail_on, metrics={"count": settings.count})
    for spec in request.findings:
        severity, path, line = spec.split(":")
        report.findings.append(
            Finding(
                rule="sample-rule",
                severity=Severity(severity),
                message=f"token is {settings.token}",
                location=Location(path=path, line=int(line), column=3),
            )
        )
    if request.secret_env:
        value = os.environ[request.secret_env]
        report.findings.append(
            Finding(
                rule="sample-secret",
                severity=Severity.CRITICAL,
                message=f"found {value} here",
                location=Location(path="app/settings.py", line=7),
                data={"context": f"KEY = '{value}'"},
                secret=value,
            )
        )
    for spec in request.cases:
        name, status = spec.split(":")
        report.cases.append(Case(name=name, status=status, message=f"{name} {status}"))  # type: ignore[arg-type]
    return report
